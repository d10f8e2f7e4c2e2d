#include "client/cli/salvage.h"

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli/cli_common.h"
#include "common/crc32c.h"
#include "common/rpc_status.h"
#include "ternion/v1/chunkserver.grpc.pb.h"
#include "ternion/v1/master.grpc.pb.h"

namespace ternion::cli {
namespace {

constexpr uint64_t kBlock = 64 * 1024;

// Reads [offset, offset+length) of a chunk from one copy; false unless every byte arrived
// intact.
bool ReadFrom(const security::TlsConfig& tls, const ternion::v1::ChunkInfo& chunk,
              const std::string& address, bool salvage, uint64_t offset, uint64_t length,
              std::string* out) {
  auto stub = ternion::v1::ChunkServerService::NewStub(
      tls.NewChannel(address, security::kChunkserverTlsName));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  ternion::v1::ReadChunkRequest req;
  req.set_chunk_id(chunk.chunk_id());
  req.set_version(chunk.version());
  req.set_offset(offset);
  req.set_length(length);
  req.set_token(chunk.token());
  req.set_salvage(salvage);
  auto reader = stub->ReadChunk(&ctx, req);
  out->clear();
  ternion::v1::ReadChunkResponse frame;
  while (reader->Read(&frame)) {
    if (frame.offset() != offset + out->size() || Crc32c(frame.data()) != frame.crc32c()) {
      ctx.TryCancel();
      break;
    }
    out->append(frame.data());
  }
  return reader->Finish().ok() && out->size() == length;
}

}  // namespace

int Salvage(const Globals& g, const std::string& project, const std::string& path,
            const std::string& out_path) {
  const bool json = g.json;
  absl::StatusOr<security::Credentials> creds = CallerCredentials(g);
  if (!creds.ok()) return Fail(creds.status());
  absl::StatusOr<security::TlsConfig> tls = security::ClientTlsConfig(*creds);
  if (!tls.ok()) return Fail(tls.status());
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MasterChannel(g);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = ternion::v1::MasterService::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  ternion::v1::GetFileInfoRequest req;
  req.set_project(project);
  req.set_path(path);
  req.set_with_chunks(true);
  ternion::v1::FileInfo info;
  if (absl::Status s = FromGrpcStatus(stub->GetFileInfo(&ctx, req, &info)); !s.ok()) {
    return Fail(s);
  }
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) return Fail(absl::PermissionDeniedError(absl::StrCat("cannot write ", out_path)));
  nlohmann::json holes = nlohmann::json::array();
  uint64_t saved = 0, lost = 0;
  std::string block;
  for (const auto& chunk : info.chunks()) {
    const uint64_t base = chunk.index() * info.chunk_size();
    for (uint64_t off = 0; off < chunk.length(); off += kBlock) {
      const uint64_t n = std::min(kBlock, chunk.length() - off);
      bool got = false;
      for (const auto& r : chunk.replicas()) {
        if ((got = ReadFrom(*tls, chunk, r.address(), false, off, n, &block))) break;
      }
      for (const auto& r : chunk.corrupt_replicas()) {
        if (got) break;
        got = ReadFrom(*tls, chunk, r.address(), true, off, n, &block);
      }
      if (!got) {
        block.assign(n, '\0');
        if (!holes.empty() && holes.back()[0].get<uint64_t>() + holes.back()[1].get<uint64_t>() ==
                                  base + off) {
          holes.back()[1] = holes.back()[1].get<uint64_t>() + n;
        } else {
          holes.push_back({base + off, n});
        }
      }
      (got ? saved : lost) += n;
      out.write(block.data(), block.size());
    }
  }
  out.close();
  if (!out) return Fail(absl::DataLossError(absl::StrCat("cannot write ", out_path)));
  if (json) {
    std::cout << nlohmann::json({{"file", project + "/" + path},
                                 {"out", out_path},
                                 {"bytes_saved", saved},
                                 {"bytes_lost", lost},
                                 {"lost_ranges", holes}})
                     .dump(2)
              << "\n";
  } else {
    std::cout << "salvaged " << HumanBytes(saved) << " of " << project << "/" << path << " into "
              << out_path;
    if (lost == 0) {
      std::cout << ": every byte is intact\n";
    } else {
      std::cout << "; " << HumanBytes(lost) << " could not be saved (written as zeros): "
                << holes.dump() << " ([offset, length])\n";
    }
  }
  return lost == 0 ? 0 : 2;
}

}  // namespace ternion::cli
