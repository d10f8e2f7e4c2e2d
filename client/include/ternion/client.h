#pragma once

// Ternion client library: the API compute jobs link to read and write files.
//
//   ternion::ClientOptions options;
//   ternion::LoadCredentials("", &options);  // AccessKey, master, CA: profile or environment
//   auto client = ternion::Client::Connect(options);
//   auto writer = (*client)->Create("myproject", "logs/day1");
//   (*writer)->Append(data);        // buffered; crosses chunk boundaries by itself
//   (*writer)->Close();             // success = every byte durable on three chunkservers
//   auto reader = (*client)->Open("myproject", "logs/day1");
//   (*reader)->ReadAt(0, 4096, &out);
//
// Every call returns absl::Status / absl::StatusOr; nothing throws. Objects are not
// thread-safe unless stated; a Client may be shared by threads (each using its own readers and
// writers).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ternion/table.h"

namespace ternion {

struct ClientOptions {
  std::string master_address;             // host:port
  std::string client_id;                  // names the writer in leases; default pid@host
  // The client's rack: replicas on this host are read first, then those in this rack.
  std::string rack;
  absl::Duration rpc_timeout = absl::Seconds(30);
  // Unacknowledged bytes in flight per replica stream while writing.
  size_t write_window_bytes = 8u << 20;
  // How long a flushed length may wait before a writer commits it at the master (FileWriter::
  // Flush), in the background. Keep it far below half the master's --lease: a flush returns
  // without waiting for the master only while the writer's latest recorded commit keeps its
  // lease for half the lease's length more, and otherwise waits for a commit.
  absl::Duration lazy_commit_interval = absl::Seconds(1);
  // The AccessKey that signs every call to the master (LoadCredentials fills them).
  std::string access_key_id;
  std::string access_key_secret;
  // Transport: TLS trusting this CA certificate file (empty: the system's roots), or plaintext
  // with `insecure` (a cluster started with --insecure). LoadCredentials fills them.
  std::string ca_file;
  bool insecure = false;
  // The project of the job this client reads for, and the job's task type: sent, signed, with
  // every read, so the master reads a protected project's data for another project only where
  // that project's policy allows (docs/security.md). Empty: reads are for the file's project.
  std::string job_project;
  std::string task_type;
  // The columns reads of tables scan, sent with every read: where the project has label
  // security on, each is checked against the reader's clearance. Empty: every column.
  std::vector<std::string> read_columns;
};

// Fills the credentials of `options` from the profile file `profile` when given; else from
// TERNION_ACCESS_KEY_ID / TERNION_ACCESS_KEY_SECRET; else from the profile TERNION_PROFILE
// names; else from ~/.ternion/profile when it exists. A profile naming a master fills
// master_address when it is empty; its `ca` and `insecure` (or TERNION_CA, TERNION_INSECURE=1)
// fill the transport.
absl::Status LoadCredentials(const std::string& profile, ClientOptions* options);

struct ReplicaLocation {
  std::string server_id;
  std::string address;
  std::string rack;
};

struct ChunkStat {
  uint64_t chunk_id = 0;
  uint64_t version = 0;
  uint64_t index = 0;
  uint64_t length = 0;
  std::vector<ReplicaLocation> replicas;
  std::string token;  // the master's read token for this chunk (chunkservers require one)
};

struct FileStat {
  std::string project;
  std::string path;
  uint64_t length = 0;  // acknowledged bytes: durable on every replica
  uint64_t chunk_size = 0;
  bool sealed = false;
  bool under_lease = false;  // a writer holds an unexpired lease
  // A writer's lease is not released yet (by closing, or the master's lease recovery): the
  // last chunk may hold flushed bytes past `length`, which readers see (FileReader).
  bool open = false;
  int64_t created_unix_ms = 0;
  int64_t modified_unix_ms = 0;
  std::vector<ChunkStat> chunks;  // filled by Stat(..., with_chunks=true)
};

struct ProjectStat {
  std::string name;
  std::string owner;
  int64_t created_unix_ms = 0;
};

struct CreateOptions {
  uint64_t chunk_size = 0;  // 0: the master's default (64 MiB)
};

// Appends to one file under a single-writer lease.
class FileWriter {
 public:
  virtual ~FileWriter() = default;

  // Buffers `data` and streams full frames to the chunk's three replicas as they fill. An
  // error here or later means bytes after the last acknowledged length may be missing.
  virtual absl::Status Append(absl::string_view data) = 0;

  // Returns once every appended byte is durable on all three replicas. The master learns the
  // length lazily (at the first flush into each chunk, at each chunk's end, on Close or Seal,
  // and in the background at most ClientOptions::lazy_commit_interval after a flush): a reader
  // that opens the file meanwhile asks the replicas, and sees every flushed byte. A failed
  // background commit (a lost lease) fails the writer's next call.
  virtual absl::Status Flush() = 0;

  // Flush, then release the lease (the file stays appendable by a later writer).
  virtual absl::Status Close() = 0;

  // Flush, then make the file immutable.
  virtual absl::Status Seal() = 0;

  // Acknowledged length: bytes durable on three replicas.
  virtual uint64_t length() const = 0;
};

// Reads one file. The visible length is the acknowledged length at Open() (for a file being
// written, what its last chunk's replicas hold durably).
class FileReader {
 public:
  virtual ~FileReader() = default;

  // Reads up to n bytes at offset into *out. Returns fewer bytes only at the end of the file;
  // offset == length() gives an empty result; offset > length() is OUT_OF_RANGE. Each chunk is
  // read from one replica; on an error or checksum mismatch the read moves to another replica.
  virtual absl::Status ReadAt(uint64_t offset, size_t n, std::string* out) = 0;

  virtual uint64_t length() const = 0;
};

class Client {
 public:
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const ClientOptions& options);
  virtual ~Client() = default;

  virtual absl::Status CreateProject(const std::string& name, const std::string& owner = "") = 0;
  virtual absl::StatusOr<std::vector<ProjectStat>> ListProjects() = 0;

  // Creates a new file and takes its write lease.
  virtual absl::StatusOr<std::unique_ptr<FileWriter>> Create(const std::string& project,
                                                             const std::string& path,
                                                             const CreateOptions& options = {}) = 0;
  // Takes the write lease of an existing, unsealed file to append to it.
  virtual absl::StatusOr<std::unique_ptr<FileWriter>> OpenForAppend(const std::string& project,
                                                                    const std::string& path) = 0;
  virtual absl::StatusOr<std::unique_ptr<FileReader>> Open(const std::string& project,
                                                           const std::string& path) = 0;

  virtual absl::StatusOr<FileStat> Stat(const std::string& project, const std::string& path,
                                        bool with_chunks = false) = 0;
  // Files whose path starts with `prefix`, in path order.
  virtual absl::StatusOr<std::vector<FileStat>> List(const std::string& project,
                                                     const std::string& prefix = "") = 0;
  // Removes the file from the namespace at once; every replica of its chunks is then wiped
  // (overwritten and synced) before its space is reused. Refused while a writer holds the
  // file's lease, unless `force` (which revokes the lease).
  virtual absl::Status Delete(const std::string& project, const std::string& path,
                              bool force = false) = 0;
  // Renames a closed file within its project, atomically (ALREADY_EXISTS when `new_path`
  // exists, FAILED_PRECONDITION while a writer holds its lease).
  virtual absl::Status Rename(const std::string& project, const std::string& path,
                              const std::string& new_path) = 0;
  // A sealed, read-only copy of a closed file at its current length, sharing its chunks: no
  // bytes are copied, and the chunks stay until every file referencing them is deleted.
  virtual absl::Status Snapshot(const std::string& project, const std::string& path,
                                const std::string& snapshot_path) = 0;

  // Tables of encrypted rows (ternion/table.h). A new table: its schema is durable when this
  // returns.
  virtual absl::StatusOr<std::unique_ptr<TableWriter>> CreateTable(
      const std::string& project, const std::string& path, const TableSchema& schema,
      const CreateOptions& options = {}) = 0;
  // Takes the table's write lease; rows go on from the last complete one. Needs read on the
  // table as well (to find where its rows end).
  virtual absl::StatusOr<std::unique_ptr<TableWriter>> OpenTableForAppend(
      const std::string& project, const std::string& path) = 0;
  // Reads `columns` (empty: every column; the others are returned null), checked by the master
  // against the caller's grants and clearance, with the keys of those columns only.
  virtual absl::StatusOr<std::unique_ptr<TableReader>> OpenTable(
      const std::string& project, const std::string& path,
      const std::vector<std::string>& columns = {}) = 0;
  // Rewrites every row of the table under the project's newest data key version (after a
  // rotation, before destroying an older version), online: the copy takes the table's place in
  // one step, and readers that had it open go on reading at the same row ids. ABORTED, leaving
  // the table as it was, when rows were appended meanwhile. Needs read on every column, write
  // and delete. Returns the number of rows.
  virtual absl::StatusOr<uint64_t> ReencryptTable(const std::string& project,
                                                  const std::string& path) = 0;
};

}  // namespace ternion
