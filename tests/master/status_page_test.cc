#include "master/status_page.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ternion::master {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

ternion::v1::ClusterStatusResponse TwoRacks() {
  ternion::v1::ClusterStatusResponse st;
  auto add = [&st](const char* id, const char* rack, const char* state, uint64_t used) {
    ternion::v1::ChunkServerStatus* s = st.add_servers();
    s->set_server_id(id);
    s->set_rack(rack);
    s->set_state(state);
    s->set_admin_state("active");
    s->set_capacity_bytes(1000);
    s->set_used_bytes(used);
    s->set_replicas(7);
  };
  add("cs-a", "r1", "live", 250);
  add("cs-b", "r2", "dead", 0);
  st.mutable_servers(0)->set_maintenance_ends_in_ms(7199999);
  st.set_live_servers(1);
  st.set_chunks_total(12);
  st.set_chunks_under_replicated(3);
  st.set_moves_queued(4);
  st.set_replication_paused(true);
  st.mutable_health()->set_status("HEALTH_WARN");
  ternion::v1::HealthCheck* c = st.mutable_health()->add_checks();
  c->set_code("SERVER_DEAD");
  c->set_severity("WARN");
  c->set_summary("1 chunkserver dead");
  return st;
}

TEST(StatusPageTest, ShowsVerdictServersByRackChunksReplicationAndGc) {
  ternion::v1::GcStatusResponse gc;
  gc.set_chunks_pending(5);
  gc.set_bytes_pending_wipe(3 << 20);
  const std::string page = RenderStatusPage(TwoRacks(), gc);
  EXPECT_THAT(page, HasSubstr("<div class=\"verdict HEALTH_WARN\">HEALTH_WARN</div>"));
  EXPECT_THAT(page, HasSubstr("[WARN] SERVER_DEAD: 1 chunkserver dead"));
  EXPECT_THAT(page, HasSubstr("Chunkservers: 1 live of 2"));
  EXPECT_THAT(page, HasSubstr("<h3>Rack r1</h3>"));
  EXPECT_THAT(page, HasSubstr("<h3>Rack r2</h3>"));
  EXPECT_LT(page.find("cs-a"), page.find("Rack r2"));  // each server under its rack
  EXPECT_GT(page.find("cs-b"), page.find("Rack r2"));
  EXPECT_THAT(page, HasSubstr("<td class=\"dead\">dead</td>"));
  EXPECT_THAT(page, HasSubstr("<td class=\"live\">live, maintenance for 1h59m</td>"));
  EXPECT_THAT(page, HasSubstr("25% of 1000 B"));
  EXPECT_THAT(page, HasSubstr("<td>Under-replicated</td><td class=\"n\">3</td>"));
  EXPECT_THAT(page, HasSubstr("<td>Replication</td><td>paused</td>"));
  EXPECT_THAT(page, HasSubstr("<td>Moves queued</td><td class=\"n\">4</td>"));
  EXPECT_THAT(page, HasSubstr("<td>Deleted chunks awaiting wipe</td><td class=\"n\">5</td>"));
  EXPECT_THAT(page, HasSubstr("<td>Bytes awaiting wipe</td><td class=\"n\">3.0 MiB</td>"));
  EXPECT_THAT(page, Not(HasSubstr("<script")));
}

TEST(StatusPageTest, NamesAreEscaped) {
  ternion::v1::ClusterStatusResponse st = TwoRacks();
  st.mutable_servers(0)->set_server_id("<script>alert(1)</script>");
  st.mutable_servers(0)->set_rack("r\"1");
  const std::string page = RenderStatusPage(st, {});
  EXPECT_THAT(page, Not(HasSubstr("<script>")));
  EXPECT_THAT(page, HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_THAT(page, HasSubstr("Rack r&quot;1"));
  EXPECT_EQ(HtmlEscape("a&b<'>"), "a&amp;b&lt;&#39;&gt;");
}

}  // namespace
}  // namespace ternion::master
