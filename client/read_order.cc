#include "client/read_order.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <tuple>

namespace ternion::client {

std::vector<size_t> ReadOrder(const std::vector<ReadCandidate>& replicas, const ReaderPlace& here) {
  auto key = [&](const ReadCandidate& r) {
    const bool loopback = r.host.rfind("127.", 0) == 0 || r.host == "::1";
    const int distance = loopback || here.hosts.contains(r.host)       ? 0
                         : (!here.rack.empty() && r.rack == here.rack) ? 1
                                                                       : 2;
    return std::make_tuple(!r.live, distance, r.active_streams);
  };
  std::vector<size_t> order(replicas.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return key(replicas[a]) < key(replicas[b]); });
  return order;
}

std::string HostOf(const std::string& address) {
  if (!address.empty() && address[0] == '[') {
    const size_t end = address.find(']');
    return end == std::string::npos ? address : address.substr(1, end - 1);
  }
  const size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

absl::flat_hash_set<std::string> LocalHosts() {
  absl::flat_hash_set<std::string> hosts = {"localhost"};
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) == 0) hosts.insert(name);
  ifaddrs* addrs = nullptr;
  if (getifaddrs(&addrs) != 0) return hosts;
  for (ifaddrs* a = addrs; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof(buf));
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, buf,
                sizeof(buf));
    } else {
      continue;
    }
    hosts.insert(buf);
  }
  freeifaddrs(addrs);
  return hosts;
}

}  // namespace ternion::client
