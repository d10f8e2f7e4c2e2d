// ternion-chunkserver: flags -> ChunkServerOptions -> run until SIGTERM.

#include <CLI/CLI.hpp>
#include <iostream>

#include "absl/strings/str_split.h"
#include "chunkserver/chunkserver.h"
#include "common/daemon.h"
#include "common/failpoint.h"
#include "common/logging.h"
#include "common/process_metrics.h"
#include "common/version.h"

int main(int argc, char** argv) {
  ternion::BlockTerminationSignals();
  ternion::KeepLargeBuffersInHeap();
  ternion::DisableMutexDeadlockDetection();
  ternion::SetLogProcessName("chunkserver");
  ternion::chunkserver::ChunkServerOptions options;
  std::string data_dirs;
  std::string ready_file;
  double heartbeat_s = 1.0;
  CLI::App app{"Ternion chunkserver: stores chunk replicas on local disks."};
  app.set_version_flag("--version", ternion::VersionLine("ternion-chunkserver"));
  app.set_config("--config", "",
                 "A TOML file of these flags (`name = value`, names without the dashes, e.g. "
                 "/etc/ternion/chunkserver.toml); flags given on the command line win");
  app.add_option("--master", options.master_address, "Master address host:port")->required();
  app.add_option("--data-dirs", data_dirs, "Comma-separated data directories, one per disk")
      ->required();
  app.add_option("--rack", options.rack, "Rack this server is in");
  app.add_option("--host", options.host, "Address to listen on and advertise");
  app.add_option("--port", options.port, "gRPC port (0 = pick a free one)");
  app.add_option("--metrics-port", options.metrics_port, "/metrics port (0 = free, -1 = off)");
  app.add_option("--heartbeat-interval", heartbeat_s, "Seconds between heartbeats");
  app.add_option("--ready-file", ready_file, "Write a JSON file here once serving");
  double report_s = 300;
  double scrub_mib_s = 16, scrub_interval_s = 86400, wipe_mib_s = 0;
  app.add_option("--wipe-mib-s", wipe_mib_s, "Wipe rate limit, MiB/s (0 = disk speed)");
  uint64_t journal_mib = ternion::chunkserver::kDefaultJournalBytes >> 20;
  app.add_option("--journal-mib", journal_mib,
                 "Each disk's write journal, MiB (small appends are made durable there)")
      ->check(CLI::Range(ternion::chunkserver::kMinJournalBytes >> 20,
                         ternion::chunkserver::kMaxJournalBytes >> 20));
  app.add_option("--scrub-mib-s", scrub_mib_s, "Scrubber read rate, MiB/s (0 = off)");
  app.add_option("--scrub-interval", scrub_interval_s,
                 "Seconds from the start of one scrub pass to the next");
  app.add_option("--report-interval", report_s,
                 "Seconds between full replica reports (the first comes at a random point)");
  uint64_t disk_capacity_mib = 0;
  app.add_option("--disk-capacity-mib", disk_capacity_mib,
                 "Report this capacity per disk and count only replica bytes as used "
                 "(test clusters sharing one filesystem); 0 = the filesystem's figures")
      ->take_last();
  ternion::security::TlsFiles tls_files;
  bool insecure = false;
  app.add_option("--tls-ca", tls_files.ca, "The cluster's CA certificate (PEM)");
  app.add_option("--tls-cert", tls_files.cert,
                 "This server's certificate (`ternion certs chunkserver`); its name is the "
                 "server's id");
  app.add_option("--tls-key", tls_files.key, "This server's private key");
  app.add_flag("--insecure", insecure, "Plaintext gRPC instead of TLS (test clusters only)");
  std::string failpoints;
  app.add_option("--failpoints", failpoints,
                 "Fault injection for tests: NAME=crash|eio|enospc[*N|@N],... (docs/operations.md)");
  std::string log_level = "info";
  app.add_option(
      "--log-level", log_level,
      "debug, info, warning or error (changed at run time by `ternion admin log-level`)");
  CLI11_PARSE(app, argc, argv);
  if (absl::Status s = ternion::SetLogLevel(log_level); !s.ok()) {
    std::cerr << s.message() << "\n";
    return 2;
  }
  TLOG(INFO) << ternion::VersionLine("ternion-chunkserver") << " starting";
  if (absl::Status s = ternion::ArmFailpoints(failpoints); !s.ok()) {
    TLOG(ERROR) << s;
    return 1;
  }
  absl::StatusOr<ternion::security::TlsConfig> tls =
      ternion::security::DaemonTlsConfig(tls_files, insecure);
  if (!tls.ok()) {
    TLOG(ERROR) << tls.status();
    return 1;
  }
  options.tls = *tls;
  options.data_dirs = absl::StrSplit(data_dirs, ',', absl::SkipEmpty());
  options.heartbeat_interval = absl::Seconds(heartbeat_s);
  options.disk_capacity_bytes = disk_capacity_mib << 20;
  options.report_interval = absl::Seconds(report_s);
  options.scrub.bytes_per_second = scrub_mib_s * (1 << 20);
  options.scrub.pass_interval = absl::Seconds(scrub_interval_s);
  options.wipe_bytes_per_second = wipe_mib_s * (1 << 20);
  options.journal_bytes = journal_mib << 20;

  ternion::ExportProcessMetrics();
  auto server = ternion::chunkserver::ChunkServer::Start(options);
  if (!server.ok()) {
    TLOG(ERROR) << "cannot start: " << server.status();
    return 1;
  }
  if (!ready_file.empty()) {
    absl::Status s = ternion::WriteReadyFile(ready_file, (*server)->address(),
                                             (*server)->metrics_port(), (*server)->server_id());
    if (!s.ok()) {
      TLOG(ERROR) << "cannot write ready file: " << s;
      return 1;
    }
  }
  ternion::NotifyServiceManager("READY=1");
  int sig = ternion::WaitForTerminationSignal();
  ternion::NotifyServiceManager("STOPPING=1");
  TLOG(INFO) << "signal " << sig << ", shutting down gracefully";
  (*server)->Shutdown(/*graceful=*/true);
  return 0;
}
