#include "bench/sink_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace ternion::bench {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "ternion-bench: sink: %s\n", what.c_str());
  std::exit(1);
}

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  return addr;
}

}  // namespace

std::vector<SinkProcess> StartSinkProcesses(const std::string& dir, int count,
                                            const std::string& kind) {
  std::vector<SinkProcess> sinks;
  for (int i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);  // inherited across exec on purpose
    sockaddr_in addr = Loopback(0);
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd, 64) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      Die("socket");
    }
    SinkProcess s;
    s.port = ntohs(addr.sin_port);
    s.path = absl::StrCat(dir, "/", kind, i);
    std::vector<std::string> argv = {"/proc/self/exe", "--sink-kind", kind,  "--sink-fd",
                                     absl::StrCat(fd), "--sink-path", s.path};
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    s.pid = fork();
    if (s.pid == 0) {
      execv(args[0], args.data());
      _exit(127);
    }
    ::close(fd);
    sinks.push_back(s);
  }
  return sinks;
}

int ConnectToSink(const SinkProcess& sink) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = Loopback(sink.port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Die("connect");
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace ternion::bench
