#pragma once

// What the `ternion` CLI's command files share: global flags, error printing, byte formatting.

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "client/master_channel.h"
#include "common/human_units.h"
#include "common/rpc_status.h"
#include "security/credentials.h"
#include "ternion/client.h"
#include "ternion/v1/master.grpc.pb.h"

namespace ternion::cli {

struct Globals {
  std::string master;   // --master or TERNION_MASTER; else the profile's
  std::string profile;  // --profile; else see security::FindCredentials
  std::string ca;       // --ca: the cluster's CA certificate; else the profile's, TERNION_CA
  bool insecure = false;  // --insecure: plaintext (else the profile's, TERNION_INSECURE=1)
  bool json = false;
  std::string job_project;  // --job-project / TERNION_JOB_PROJECT: reads are made for it
  std::string task_type;    // --task-type / TERNION_TASK_TYPE
  std::vector<std::string> columns;  // --columns: the columns reads of tables scan
};

// The caller's AccessKey, with the master address filled from --master / TERNION_MASTER or else
// from the profile. INVALID_ARGUMENT when no master address is known.
inline absl::StatusOr<security::Credentials> CallerCredentials(const Globals& g) {
  absl::StatusOr<security::Credentials> c = security::FindCredentials(g.profile);
  if (!c.ok()) return c.status();
  if (!g.master.empty()) c->master = g.master;
  if (!g.ca.empty()) c->ca = g.ca;
  c->insecure |= g.insecure;
  if (c->master.empty()) {
    return absl::InvalidArgumentError(
        "no master address (--master, TERNION_MASTER, or a profile naming one)");
  }
  return c;
}

// A channel to the master signing every call as the caller.
inline absl::StatusOr<std::shared_ptr<grpc::Channel>> MasterChannel(const Globals& g) {
  absl::StatusOr<security::Credentials> c = CallerCredentials(g);
  if (!c.ok()) return c.status();
  absl::StatusOr<security::TlsConfig> tls = security::ClientTlsConfig(*c);
  if (!tls.ok()) return tls.status();
  return NewMasterChannel(c->master, *c, *tls);
}

// A time as the CLI prints it: UTC, to the second ("-" for 0, which means none).
inline std::string Time(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(unix_ms), absl::UTCTimeZone());
}

// "project/path/in/project" -> (project, path). The path may be empty only if allowed.
inline absl::Status SplitTarget(const std::string& target, bool path_required, std::string* project,
                                std::string* path) {
  size_t slash = target.find('/');
  *project = target.substr(0, slash);
  *path = slash == std::string::npos ? "" : target.substr(slash + 1);
  if (project->empty()) return absl::InvalidArgumentError("expected PROJECT/PATH");
  if (path_required && path->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("expected PROJECT/PATH, got '", target, "'"));
  }
  return absl::OkStatus();
}

// Connects as the caller; reads are made for `job_project` when given (else --job-project).
inline absl::StatusOr<std::unique_ptr<ternion::Client>> Connect(
    const Globals& g, const std::string& job_project = "") {
  absl::StatusOr<ternion::security::Credentials> creds = CallerCredentials(g);
  if (!creds.ok()) return creds.status();
  ternion::ClientOptions options;
  options.master_address = creds->master;
  options.access_key_id = creds->key_id;
  options.access_key_secret = creds->secret;
  options.ca_file = creds->ca;
  options.insecure = creds->insecure;
  options.job_project = job_project.empty() ? g.job_project : job_project;
  options.task_type = g.task_type;
  options.read_columns = g.columns;
  if (const char* rack = std::getenv("TERNION_RACK")) options.rack = rack;
  return ternion::Client::Connect(options);
}

// Prints the error for the user and returns the process exit code.
inline int Fail(const absl::Status& s) {
  std::cerr << "ternion: " << s.message() << " (" << absl::StatusCodeToString(s.code()) << ")\n";
  if (s.code() == absl::StatusCode::kUnavailable) {
    std::cerr << "  (is the server up, and does the transport match: --ca for a TLS cluster, "
                 "--insecure for a plaintext one?)\n";
  }
  return 1;
}

// Calls one master RPC, signed as the caller, with a 30-second deadline.
template <typename Req, typename Resp, typename Method>
absl::Status Call(const Globals& g, Method method, const Req& req, Resp* resp) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MasterChannel(g);
  if (!channel.ok()) return channel.status();
  auto stub = ternion::v1::MasterService::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return FromGrpcStatus(((*stub).*method)(&ctx, req, resp));
}

// A server's state for tables: live, suspect, stopping or dead, with "+maint 1h59m" while it
// is in maintenance.
inline std::string ServerState(const ternion::v1::ChunkServerStatus& s) {
  if (s.maintenance_ends_in_ms() <= 0) return s.state();
  return absl::StrCat(s.state(), "+maint ",
                      absl::FormatDuration(absl::Seconds(s.maintenance_ends_in_ms() / 1000)));
}

}  // namespace ternion::cli
