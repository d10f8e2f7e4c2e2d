#include "chunkserver/chunkserver.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "chunkserver/chunk_service.h"
#include "chunkserver/chunk_store.h"
#include "chunkserver/cluster_stamp.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/metrics_http_server.h"
#include "common/names.h"
#include "common/status_macros.h"
#include "ternion/v1/master.grpc.pb.h"

namespace ternion::chunkserver {
namespace {

// The server's identity survives restarts: it lives in the first usable data directory. Under
// TLS the certificate names it: a new server takes that name, and a server whose data belongs
// to another id does not start (its certificate is another server's).
absl::StatusOr<std::string> LoadOrCreateServerId(const std::vector<std::string>& dirs,
                                                 const std::string& certified_id) {
  for (const std::string& dir : dirs) {
    std::string path = dir + "/server_id";
    absl::StatusOr<std::string> id = ReadFileToString(path);
    if (!id.ok() || id->empty()) continue;
    if (!certified_id.empty() && *id != certified_id) {
      return absl::FailedPreconditionError(
          absl::StrCat("the data in ", dir, " belongs to chunkserver ", *id,
                       ", but the TLS certificate names ", certified_id));
    }
    return *id;
  }
  std::string id = certified_id;
  if (id.empty()) {
    absl::BitGen gen;
    id = absl::StrFormat("cs-%016x", absl::Uniform<uint64_t>(gen));
  }
  for (const std::string& dir : dirs) {
    if (WriteFileAtomically(dir + "/server_id", id).ok()) return id;
  }
  return absl::FailedPreconditionError("cannot persist the server id in any data directory");
}

void FillDisks(ChunkStore* store, uint64_t virtual_capacity,
               google::protobuf::RepeatedPtrField<ternion::v1::DiskUsage>* out) {
  std::vector<ReplicaInfo> replicas;
  if (virtual_capacity != 0) replicas = store->ListReplicas();
  for (const DiskInfo& d : store->Disks()) {
    auto* u = out->Add();
    u->set_path(d.path);
    u->set_capacity_bytes(d.capacity_bytes);
    u->set_used_bytes(d.used_bytes);
    u->set_failed(d.failed);
    if (virtual_capacity != 0) {
      uint64_t used = 0;
      for (const ReplicaInfo& r : replicas) used += r.disk == d.path ? r.length : 0;
      u->set_capacity_bytes(virtual_capacity);
      u->set_used_bytes(used);
    }
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChunkServer>> ChunkServer::Start(const ChunkServerOptions& options) {
  if (options.master_address.empty()) return absl::InvalidArgumentError("no master address");
  std::unique_ptr<ChunkServer> cs(new ChunkServer());
  cs->options_ = options;
  // A server whose directories belong to different clusters does not start at all.
  absl::StatusOr<std::string> stamp = ReadClusterStamp(options.data_dirs);
  if (!stamp.ok()) return stamp.status();
  cs->cluster_id_ = *stamp;
  auto store = ChunkStore::Open(options.data_dirs, FileSystem::Default(), options.journal_bytes);
  if (!store.ok()) return store.status();
  cs->store_ = std::move(*store);
  if (!options.tls.insecure())
    RETURN_IF_ERROR(ValidateTopologyName(options.tls.common_name(), "server id"));
  auto id = LoadOrCreateServerId(options.data_dirs, options.tls.common_name());
  if (!id.ok()) return id.status();
  cs->server_id_ = *id;
  cs->service_ = std::make_unique<ChunkService>(cs->store_.get(), cs->server_id_, options.tls);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat(options.host, ":", options.port),
                           options.tls.ServerCredentials(), &cs->port_);
  builder.RegisterService(cs->service_.get());
  // A frame is at most 1 MiB of data plus a small header; anything larger is refused by gRPC.
  builder.SetMaxReceiveMessageSize(kMaxFrameBytes + 64 * 1024);
  grpc::ResourceQuota quota("chunkserver");
  quota.SetMaxThreads(128);
  builder.SetResourceQuota(quota);
  cs->server_ = builder.BuildAndStart();
  if (cs->server_ == nullptr || cs->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.host, ":", options.port));
  }

  ChunkStore* store_ptr = cs->store_.get();
  AddMetricsCollector([store_ptr] {
    GetGauge("ternion_chunkserver_replicas", "Chunk replicas stored on this chunkserver.")
        ->Set(store_ptr->ListReplicas().size());
    GetGauge("ternion_chunkserver_quarantined_replicas",
             "Replicas set aside (unknown to the master, or corrupt): not served, not wiped yet.")
        ->Set(store_ptr->ListQuarantined().size());
    const JournalStats j = store_ptr->Journals();
    GetGauge("ternion_chunkserver_journal_capacity_bytes",
             "Size of the write journals of all disks.")
        ->Set(j.capacity);
    GetGauge("ternion_chunkserver_journal_used_bytes",
             "Journaled bytes not yet applied to their replicas' files and wiped.")
        ->Set(j.used);
    // Counters kept by the journals: brought up to their totals.
    auto total = [](const char* name, const char* help, uint64_t value) {
      AdvanceCounterTo(GetCounter(name, help), static_cast<double>(value));
    };
    total("ternion_chunkserver_journal_records_total", "Appends made durable through a journal.",
          j.records);
    total("ternion_chunkserver_journal_syncs_total",
          "Journal syncs (group commits; records per sync = records / syncs).", j.syncs);
    total("ternion_chunkserver_journal_throttled_total", "Appends that waited for journal space.",
          j.throttled);
    for (const DiskInfo& d : store_ptr->Disks()) {
      GetGauge("ternion_chunkserver_disk_capacity_bytes", "Capacity of each data directory.",
               {{"disk", d.path}})
          ->Set(d.capacity_bytes);
      GetGauge("ternion_chunkserver_disk_used_bytes", "Used bytes of each data directory.",
               {{"disk", d.path}})
          ->Set(d.used_bytes);
    }
  });
  if (options.metrics_port >= 0) {
    auto metrics = MetricsHttpServer::Start(options.host, options.metrics_port);
    if (!metrics.ok()) return metrics.status();
    cs->metrics_ = std::move(*metrics);
  }
  cs->heartbeat_ = std::thread([p = cs.get()] { p->HeartbeatLoop(); });
  cs->store_->SetWipeRate(options.wipe_bytes_per_second);
  cs->wiper_ = std::thread([p = cs.get()] { p->WipeLoop(); });
  if (options.scrub.bytes_per_second > 0) {
    cs->scrubber_ = std::make_unique<Scrubber>(cs->store_.get(), options.scrub);
  }
  TLOG(INFO) << "chunkserver " << cs->server_id_ << " serving on " << cs->address() << " rack "
             << options.rack << " with " << options.data_dirs.size() << " data dir(s)";
  return cs;
}

ChunkServer::~ChunkServer() { Shutdown(); }

void ChunkServer::Shutdown(bool graceful) {
  if (graceful) graceful_ = true;
  if (!stop_.HasBeenNotified()) stop_.Notify();
  scrubber_.reset();
  {
    absl::MutexLock lock(&wipe_mu_);
    wipe_stop_ = true;
    wipe_cv_.Signal();
  }
  if (wiper_.joinable()) wiper_.join();
  if (heartbeat_.joinable()) heartbeat_.join();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  metrics_.reset();
}

std::string ChunkServer::address() const { return absl::StrCat(options_.host, ":", port_); }

int ChunkServer::metrics_port() const { return metrics_ ? metrics_->port() : -1; }

void ChunkServer::DeleteReplicas(
    const google::protobuf::RepeatedPtrField<ternion::v1::ReplicaWipe>& wipes) {
  absl::MutexLock lock(&wipe_mu_);
  for (const ternion::v1::ReplicaWipe& w : wipes) {
    store_->RefuseReads(w.chunk_id());
    auto [it, queued] = wipe_pending_.try_emplace(w.chunk_id(), w.max_version());
    if (queued) {
      wipe_queue_.push_back(w.chunk_id());
    } else {
      it->second = std::max(it->second, w.max_version());  // each order stands on its own
    }
  }
  wipe_cv_.Signal();
}

bool ChunkServer::ApplyOrphanDecisions(const google::protobuf::RepeatedField<uint64_t>& quarantine,
                                       const google::protobuf::RepeatedField<uint64_t>& release) {
  bool changed = false;
  for (uint64_t id : quarantine) {
    absl::Status s = store_->Quarantine(id);
    changed |= s.ok();
    if (s.ok()) {
      TLOG(WARNING) << "the master does not know chunk " << id << "; its replica is quarantined";
    } else {
      TLOG(WARNING) << "cannot quarantine the replica of chunk " << id << " yet: " << s;
    }
  }
  for (uint64_t id : release) {
    absl::Status s = store_->Release(id);
    changed |= s.ok();
    if (s.ok()) {
      TLOG(INFO) << "the master adopted chunk " << id << "; its replica is served again";
    } else {
      TLOG(WARNING) << "cannot release the replica of chunk " << id << ": " << s;
    }
  }
  return changed;
}

void ChunkServer::WipeLoop() {
  prometheus::Counter* wiped_bytes =
      GetCounter("ternion_chunkserver_wiped_bytes_total",
                 "Replica bytes overwritten and synced before release.");
  prometheus::Histogram* wipe_seconds =
      GetHistogram("ternion_chunkserver_wipe_seconds", "Time to wipe one replica.",
                   {0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30});
  while (true) {
    uint64_t id;
    uint64_t max_version;
    {
      absl::MutexLock lock(&wipe_mu_);
      while (wipe_queue_.empty() && !wipe_stop_) wipe_cv_.Wait(&wipe_mu_);
      if (wipe_stop_) return;
      id = wipe_queue_.front();
      wipe_queue_.pop_front();
      max_version = wipe_pending_.at(id);
    }
    const absl::Time start = absl::Now();
    absl::StatusOr<uint64_t> bytes = store_->Delete(id, max_version);
    absl::MutexLock lock(&wipe_mu_);
    if (bytes.ok() || absl::IsNotFound(bytes.status())) {
      const uint64_t n = bytes.ok() ? *bytes : 0;
      if (bytes.ok()) {
        wiped_bytes->Increment(n);
        wipe_seconds->Observe(absl::ToDoubleSeconds(absl::Now() - start));
        TLOG(INFO) << "wiped replica of chunk " << id << " (" << n << " bytes)";
      }
      wipe_pending_.erase(id);
      wiped_.push_back(id);
      wiped_bytes_ += n;
    } else if (absl::IsAborted(bytes.status())) {
      // Moved to a newer version since the master judged it: not the replica it meant. The
      // order is dropped; the master judges the replica again from the next report.
      TLOG(WARNING) << "not wiping replica of chunk " << id << ": " << bytes.status();
      wipe_pending_.erase(id);
    } else {
      // Being written (its writer has not ended yet) or an I/O error: try again later.
      TLOG(WARNING) << "cannot wipe replica of chunk " << id << " yet: " << bytes.status();
      wipe_queue_.push_back(id);
      wipe_cv_.WaitWithTimeout(&wipe_mu_, absl::Seconds(1));
    }
  }
}

bool ChunkServer::JoinCluster(const std::string& master_cluster_id) {
  if (master_cluster_id.empty()) {
    TLOG(ERROR) << "the master at " << options_.master_address
                << " names no cluster; not joining it";
    return false;
  }
  if (cluster_id_.empty()) {
    if (absl::Status s = StampCluster(options_.data_dirs, master_cluster_id); !s.ok()) {
      TLOG(ERROR) << "cannot stamp cluster " << master_cluster_id << " into the data directories: "
                  << s;
      return false;
    }
    cluster_id_ = master_cluster_id;
    TLOG(INFO) << "data directories stamped for cluster " << cluster_id_;
  }
  if (master_cluster_id != cluster_id_) {
    TLOG(ERROR) << "the master at " << options_.master_address << " serves cluster "
                << master_cluster_id << ", but this server's data belongs to cluster "
                << cluster_id_ << "; not joining it";
    return false;
  }
  return true;
}

void ChunkServer::HeartbeatLoop() {
  auto channel = options_.tls.NewChannel(options_.master_address, security::kMasterTlsName);
  auto stub = ternion::v1::MasterService::NewStub(channel);
  using Reports = google::protobuf::RepeatedPtrField<ternion::v1::ReplicaReport>;
  auto fill_replicas = [this](Reports* out, Reports* quarantined, Reports* damaged) {
    for (const ReplicaInfo& r : store_->ListReplicas()) ToReplicaReport(r, out->Add());
    for (const ReplicaInfo& r : store_->ListDamaged()) ToReplicaReport(r, damaged->Add());
    for (const QuarantinedReplica& q : store_->ListQuarantined()) {
      auto* report = quarantined->Add();
      ToReplicaReport(q.info, report);
      report->mutable_bad_blocks()->Add(q.bad_blocks.begin(), q.bad_blocks.end());
    }
  };
  // Full reports are spread out: the first comes after a random part of the interval.
  absl::BitGen gen;
  absl::Time next_report =
      absl::Now() + options_.report_interval * absl::Uniform<double>(gen, 0.1, 1.0);
  bool registered = false;
  LostReplicas lost;  // replicas lost since the last report, for the master
  auto heartbeat = [this] {
    ternion::v1::HeartbeatRequest req;
    req.set_server_id(server_id_);
    req.set_cluster_id(cluster_id_);
    FillDisks(store_.get(), options_.disk_capacity_bytes, req.mutable_disks());
    req.set_active_streams(service_->active_streams());
    req.set_bytes_written(service_->bytes_written());
    req.set_bytes_read(service_->bytes_read());
    req.set_clock_unix_ms(absl::ToUnixMillis(absl::Now()));
    return req;
  };
  while (!stop_.HasBeenNotified()) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    store_->CheckDisks();
    LostReplicas more = store_->TakeLost();
    lost.failed_disk.insert(lost.failed_disk.end(), more.failed_disk.begin(), more.failed_disk.end());
    lost.corrupt.insert(lost.corrupt.end(), more.corrupt.begin(), more.corrupt.end());
    if (!registered) {
      ternion::v1::RegisterChunkServerRequest req;
      req.set_server_id(server_id_);
      req.set_cluster_id(cluster_id_);
      req.set_address(address());
      req.set_rack(options_.rack);
      FillDisks(store_.get(), options_.disk_capacity_bytes, req.mutable_disks());
      fill_replicas(req.mutable_replicas(), req.mutable_quarantined(), req.mutable_damaged());
      ternion::v1::RegisterChunkServerResponse resp;
      grpc::Status s = stub->RegisterChunkServer(&ctx, req, &resp);
      if (s.ok() && !JoinCluster(resp.cluster_id())) {
        stop_.WaitForNotificationWithTimeout(options_.heartbeat_interval);
        continue;  // refused: nothing the master said is acted on
      }
      if (s.ok() && !service_->SetMasterKeys(resp.token_public_key(), resp.receipt_key())) {
        TLOG(ERROR) << "the master at " << options_.master_address
                    << " sent no valid token or receipt key; registering again";
        stop_.WaitForNotificationWithTimeout(options_.heartbeat_interval);
        continue;
      }
      if (s.ok()) {
        registered = true;
        TLOG(INFO) << "registered with master " << options_.master_address;
        if (ApplyOrphanDecisions(resp.quarantine_chunk_ids(), resp.release_chunk_ids())) {
          next_report = absl::Now();  // the master learns the new state at once
        }
        DeleteReplicas(resp.wipes());
        continue;  // heartbeat right away
      }
      TLOG(WARNING) << "registration with " << options_.master_address
                    << " failed: " << s.error_message();
    } else if (!lost.failed_disk.empty() || !lost.corrupt.empty() ||
               absl::Now() >= next_report) {
      ternion::v1::ReportReplicasRequest req;
      req.set_server_id(server_id_);
      req.set_cluster_id(cluster_id_);
      fill_replicas(req.mutable_replicas(), req.mutable_quarantined(), req.mutable_damaged());
      for (uint64_t id : lost.failed_disk) req.add_lost_chunk_ids(id);
      for (uint64_t id : lost.corrupt) req.add_corrupt_chunk_ids(id);
      ternion::v1::ReportReplicasResponse resp;
      grpc::Status s = stub->ReportReplicas(&ctx, req, &resp);
      if (s.ok()) {
        lost = LostReplicas();
        next_report = absl::Now() + options_.report_interval;
        if (resp.reregister()) registered = false;
        if (ApplyOrphanDecisions(resp.quarantine_chunk_ids(), resp.release_chunk_ids())) {
          next_report = absl::Now();  // the master learns the new state at once
        }
        DeleteReplicas(resp.wipes());
        continue;  // and heartbeat
      }
      // Retried after a heartbeat interval, not at once: the master may be down for a while.
      TLOG(WARNING) << "replica report failed: " << s.error_message();
    } else {
      ternion::v1::HeartbeatRequest req = heartbeat();
      std::vector<uint64_t> wiped;
      uint64_t wiped_bytes;
      {
        absl::MutexLock lock(&wipe_mu_);
        wiped.swap(wiped_);
        wiped_bytes = std::exchange(wiped_bytes_, 0);
      }
      for (uint64_t id : wiped) req.add_wiped_chunk_ids(id);
      req.set_wiped_bytes(wiped_bytes);
      ternion::v1::HeartbeatResponse resp;
      grpc::Status s = stub->Heartbeat(&ctx, req, &resp);
      if (!s.ok()) {  // reported again with the next heartbeat
        absl::MutexLock lock(&wipe_mu_);
        wiped_.insert(wiped_.end(), wiped.begin(), wiped.end());
        wiped_bytes_ += wiped_bytes;
      }
      if (s.ok()) DeleteReplicas(resp.wipes());
      if (s.ok() && !resp.log_level().empty() && resp.log_level() != LogLevelName()) {
        if (absl::Status set = SetLogLevel(resp.log_level()); set.ok()) {
          TLOG(INFO) << "log level " << resp.log_level() << ", as the master says";
        }
      }
      TLOG(DEBUG) << "heartbeat: " << resp.wipes_size() << " wipe(s), report wanted "
                  << resp.send_report();
      if (s.ok() && resp.send_report()) next_report = absl::Now();
      if (s.ok() && resp.reregister()) registered = false;
      if (s.ok() && resp.refused()) {
        TLOG(ERROR) << "the master refuses this server: it is decommissioned";
      }
      if (!s.ok()) TLOG(WARNING) << "heartbeat failed: " << s.error_message();
      if (!registered) continue;
    }
    stop_.WaitForNotificationWithTimeout(options_.heartbeat_interval);
  }
  if (registered && graceful_) {
    ternion::v1::HeartbeatRequest req = heartbeat();
    req.set_stopping(true);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    ternion::v1::HeartbeatResponse resp;
    grpc::Status s = stub->Heartbeat(&ctx, req, &resp);
    if (s.ok()) {
      TLOG(INFO) << "told the master this server is stopping gracefully";
    } else {
      TLOG(WARNING) << "could not tell the master this server is stopping: " << s.error_message();
    }
  }
}

}  // namespace ternion::chunkserver
