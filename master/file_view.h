#pragma once

// What the master answers about files and chunks, and how writers name their lease, in its own
// terms: MasterService converts these to and from the wire's messages (master.proto), so the
// namespace and the chunk manager never see an RPC message. (HDFS's FSNamesystem answers with
// LocatedBlocks the same way, and its RPC server converts them.)

#include <cstdint>
#include <string>
#include <vector>

namespace ternion::master {

// Names a writer's lease on a file.
struct LeaseRef {
  std::string project;
  std::string path;
  std::string lease_id;
};

struct ReplicaLocation {
  std::string server_id;
  std::string address;  // host:port of the chunkserver
  std::string rack;
  bool live = false;            // the master hears its heartbeats
  uint32_t active_streams = 0;  // at its last heartbeat
};

struct ChunkView {
  uint64_t chunk_id = 0;
  uint64_t version = 0;
  uint64_t index = 0;                     // its position in the file
  uint64_t length = 0;                    // acknowledged bytes
  std::vector<ReplicaLocation> replicas;  // live servers first
  // Damaged copies kept in quarantine, listed only while no live replica exists (for salvage).
  std::vector<ReplicaLocation> corrupt_replicas;
};

struct FileView {
  std::string project;
  std::string path;
  uint64_t file_id = 0;
  uint64_t length = 0;  // acknowledged
  uint64_t chunk_size = 0;
  bool sealed = false;
  bool under_lease = false;  // a writer holds an unexpired lease
  bool open = false;         // a writer's lease is not released (see FileInfo.open)
  uint64_t chunk_count = 0;  // chunks allocated, the last perhaps past `length`
  int64_t created_unix_ms = 0;
  int64_t modified_unix_ms = 0;
  uint64_t table_id = 0;          // nonzero: a table of encrypted rows
  std::vector<ChunkView> chunks;  // only when asked for
};

// A lease granted or renewed: the file, and what the writer names the lease by.
struct Lease {
  FileView file;
  std::string id;
  int64_t expires_unix_ms = 0;
};

// Write recovery of the chunk being written (see ReplaceReplicasRequest): the replicas on
// `failed_server_ids` are replaced, and `length` bytes are durable on every survivor.
struct WriteRecovery {
  LeaseRef lease;
  uint64_t chunk_id = 0;
  uint64_t length = 0;
  std::vector<std::string> failed_server_ids;
};

// One page of a file listing.
struct FileListing {
  std::vector<FileView> files;
  bool truncated = false;  // more files follow the last one
};

}  // namespace ternion::master
