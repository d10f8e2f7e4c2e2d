#pragma once

// Master coordinates the cluster's metadata: the namespace (projects, files, leases), the chunk
// manager (the chunk map) and the server registry, each with its own state and lock, and the
// planners that decide (placement, reports, moves, wipes); it takes the locks, gathers a view,
// calls a planner and applies its verdicts.
// Persistent state lives in a MetadataStore and is mirrored in memory. A change is applied to
// memory and appended to the MetadataLog under the locks of what it changed; the log makes it
// durable in a group with others, outside every lock. Callers answer only after WaitDurable()
// (MasterService does it at the end of every call), so nothing a crash could undo is ever acted
// on or answered. A failed log write is fatal (see MetadataLog).
//
// Thread-safe. Its components have their own locks, taken in one order: the namespace (ns_.mu),
// users and keys (access_.mu), the chunk map (chunks_.mu), the server registry (registry_.mu);
// no lock is held across I/O.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "master/access_control.h"
#include "master/access_policy.h"
#include "master/audit_log.h"
#include "master/chunk_health_report.h"
#include "master/chunk_manager.h"
#include "master/chunk_map.h"
#include "master/copy_slots.h"
#include "master/file_view.h"
#include "master/lease_recovery.h"
#include "master/metadata_log.h"
#include "master/metadata_store.h"
#include "master/move_planner.h"
#include "master/namespace.h"
#include "master/placement_policy.h"
#include "master/report_planner.h"
#include "master/server_registry.h"
#include "master/wipe_handout.h"
#include "security/chunk_token.h"
#include "security/length_receipt.h"
#include "security/row_crypto.h"
#include "ternion/v1/master.pb.h"
#include "ternion/v1/metadata.pb.h"

namespace ternion::master {

struct MasterOptions {
  uint64_t default_chunk_size = 64ull << 20;
  absl::Duration lease_duration = absl::Seconds(60);
  // A lease expired for this long is recovered, as HDFS's hard limit does: its holder can no
  // longer use it (renew, allocate, commit, recover), and the file's last chunk counts as
  // stable, so it is repaired and moved like any other. Until then the holder may come back.
  absl::Duration lease_hard_limit = absl::Hours(1);
  absl::Duration dead_after = absl::Seconds(30);  // silence after which a chunkserver is dead
  // Silence after which it is suspect (no new replicas; not repaired yet); zero: a third of
  // dead_after.
  absl::Duration suspect_after = absl::ZeroDuration();
  // A chunkserver that says it is stopping gracefully (SIGTERM) is not dead for this long: its
  // replicas are not repaired while their chunks have enough live replicas elsewhere.
  absl::Duration graceful_grace = absl::Minutes(10);
  int replicas = 3;  // at most kMaxReplicas
  PlacementOptions placement;
  // How often the chunk map is scanned for replicas to move (policy violations, draining
  // servers, the balancer).
  absl::Duration move_scan_interval = absl::Seconds(2);
  // Chunks examined per TakeMoves call (2,048 at a time, the locks let go between).
  size_t move_scan_slice = 50000;
  double balancer_band = 0.05;                      // default allowed distance from mean fill
  // The recovery throttles, per chunkserver (so recovery grows with the cluster): replica copies
  // at once out of one server (and, apart, into it), and the bandwidth of all copies into it.
  int copies_per_server = kDefaultCopiesPerServer;
  uint64_t copy_bandwidth_bytes_per_s = kDefaultCopyBandwidthBytesPerS;
  // Replicas of chunks this master does not know are quarantined, then wiped after this delay
  // (counted from when this master first saw them quarantined: a restart restarts it).
  absl::Duration orphan_wipe_delay = absl::Hours(24);
  // The deletion valve: a report that would set aside more than this fraction of a server's
  // replicas (and at least deletion_valve_min of them) is held for an operator. Below the
  // minimum the quarantine delay alone protects them.
  double deletion_valve_fraction = 0.1;
  uint64_t deletion_valve_min = 16;
  // The metadata was just restored from a backup: chunk ids allocated after the backup was
  // taken may exist on chunkservers (quarantined as orphans), so allocation skips far ahead
  // rather than reuse one of them.
  bool restored_from_backup = false;
  // Every decision by time (leases, liveness, delays) reads this clock; tests pass a fake.
  const Clock* clock = Clock::Real();
  // `ternion admin backup` writes only under this directory (empty: backups are refused).
  std::string backup_root;
  // How long a chunk token the master issues is valid (clients look chunks up again before).
  absl::Duration token_lifetime = absl::Minutes(10);
  // Wraps the secrets kept in the metadata (AccessKeys, the token signing key). Null: no
  // AccessKey can be made or loaded, and the token key lives only as long as the process.
  const security::MasterKey* master_key = nullptr;
  // Called once if the metadata log fails to write (the daemon exits: memory is ahead of disk).
  std::function<void(const absl::Status&)> on_log_failure;
};

// One replica move: copy chunk `chunk_id` to `to`, then drop the replica on `from` (when set).
// Which moves are needed is PlanChunkMove's decision (move_planner.h).
struct ReplicaMove {
  uint64_t chunk_id = 0;
  uint64_t version = 0;
  uint64_t length = 0;
  uint64_t chunk_size = 0;
  std::string project;
  std::string from;            // server id losing the replica; empty when one is only added
  std::string to;              // server id gaining it
  std::string to_address;
  std::string source;          // server id of the live replica copied from
  std::string source_address;
  std::string from_address;
  MoveReason reason = MoveReason::kPolicy;
  int priority = 0;            // lower first: a repair's is its number of live replicas
  bool drop_from = false;      // `from` is live: drop its replica once the copy is recorded
};

// Whether a report setting aside `would_remove` of the `reported` replicas of one server must
// wait for an operator.
bool DeletionValveTrips(uint64_t would_remove, uint64_t reported, const MasterOptions& options);

class Master {
 public:
  // Creates a new cluster: a metadata store in `metadata_dir` holding a new random cluster id,
  // which it returns. Refuses (ALREADY_EXISTS) when the directory already holds metadata.
  static absl::StatusOr<std::string> Format(const std::string& metadata_dir);

  // Opens the metadata of a formatted cluster. An absent store is refused (FAILED_PRECONDITION,
  // naming --format and --restore-from): a master started on the wrong directory must not
  // form a new, empty cluster that would disown every replica.
  static absl::StatusOr<std::unique_ptr<Master>> Open(const std::string& metadata_dir,
                                                      const MasterOptions& options);

  // Blocks until every metadata change made so far is durable. Nothing that saw a change may be
  // answered or acted on before (UNAVAILABLE once the log has failed).
  absl::Status WaitDurable() { return log_->WaitDurable(log_->LastAppended()); }
  // The log position of the last change to the metadata (audit records alone are not changes):
  // everything a lookup may have seen is durable once WaitDurable(LastChange()) returns.
  uint64_t LastChange() const { return last_change_.load(std::memory_order_acquire); }
  absl::Status WaitDurable(uint64_t seq) { return log_->WaitDurable(seq); }
  MetadataLog::Stats LogStats() const { return log_->stats(); }

  // The identity of this cluster, stamped into every chunkserver data directory.
  const std::string& cluster_id() const { return cluster_id_; }

  // Chunkserver membership. Registration carries a full replica report, reconciled with the
  // chunk map; the response lists replicas the server must delete.
  absl::StatusOr<ternion::v1::RegisterChunkServerResponse> RegisterChunkServer(
      const ternion::v1::RegisterChunkServerRequest& req);
  ternion::v1::ReportReplicasResponse ReportReplicas(const ternion::v1::ReportReplicasRequest& req);
  // Says `reregister` when the server is unknown to this master incarnation, `refused` when it
  // is decommissioned.
  ternion::v1::HeartbeatResponse Heartbeat(const ternion::v1::HeartbeatRequest& req);

  // Projects.
  absl::Status CreateProject(const std::string& name, const std::string& owner);
  std::vector<ternion::v1::ProjectRecord> ListProjects();

  // Namespace. Writers hold a lease; the lease id names it in later calls.
  absl::StatusOr<Lease> CreateFile(const std::string& project, const std::string& path,
                                   uint64_t chunk_size, const std::string& client_id,
                                   const std::string& request_id = "", bool table = false);
  absl::StatusOr<Lease> OpenForAppend(const std::string& project, const std::string& path,
                                      const std::string& client_id);
  absl::StatusOr<Lease> RenewLease(const LeaseRef& lease);
  // Allocates chunk `index` (the file's next) on `replicas` servers, or returns the chunk
  // already allocated there (a retried call).
  absl::StatusOr<ChunkView> AllocateChunk(const LeaseRef& lease, uint64_t index);
  // Write recovery for the file's last chunk (see WriteRecovery).
  absl::StatusOr<ChunkView> ReplaceReplicas(const WriteRecovery& req);
  // Records `length` bytes as acknowledged (durable on every replica). Never shrinks a file.
  // Every chunk it lengthens needs a receipt from each of its replicas for at least its new
  // length (security/length_receipt.h); FAILED_PRECONDITION otherwise, nothing recorded.
  // How long a lease lasts from each renewal (create, open, commit).
  absl::Duration lease_duration() const { return options_.lease_duration; }
  absl::StatusOr<uint64_t> CommitLength(const LeaseRef& lease, uint64_t length,
                                        const std::vector<security::LengthReceipt>& receipts);
  absl::StatusOr<FileView> SealFile(const LeaseRef& lease, bool seal);
  // Lease recovery (master/lease_recovery.h): up to `max` files whose writer's lease is past
  // the hard limit, each with its last chunk's live replicas to ask for their length.
  // `cursor` (the caller's, empty at first) makes successive calls go round all of them.
  std::vector<LeaseRecovery> LeaseRecoveriesDue(size_t max, std::string* cursor);
  // Commits the recovered length of `r`'s last chunk from its replicas' `answers` and releases
  // the lease, after which the chunk is stable (moved and repaired like any other). When only
  // replicas of older versions answered, moves the chunk to a new version instead and returns
  // the move of those replicas, for the caller to order; the next round commits.
  // `absent`: how many of the replicas asked said they hold no replica of the chunk; when all
  // the chunk's replicas did and nothing was committed into it, the writer died before its
  // first byte reached one, and the chunk is dropped from the file (as HDFS drops an empty last
  // block). FAILED_PRECONDITION when the file changed since `r` was made (another writer took
  // it, the chunk moved on); UNAVAILABLE when no replica answered. Either way nothing changes.
  absl::StatusOr<std::optional<RecoveryMove>> RecoverLease(
      const LeaseRecovery& r, const std::vector<ReplicaLength>& answers, size_t absent);
  absl::StatusOr<FileView> GetFileInfo(const std::string& project, const std::string& path,
                                       bool with_chunks);
  // One page: files under `prefix` after `start_after`, at most `limit` (0: 1,000; capped at
  // 10,000), in path order.
  absl::StatusOr<FileListing> ListFiles(const std::string& project, const std::string& prefix,
                                        uint32_t limit, const std::string& start_after = "");
  // Removes the file from the namespace at once. Refused while a writer holds the lease unless
  // `force` (which revokes it). Its chunks are wiped on every holder by garbage collection.
  absl::Status DeleteFile(const std::string& project, const std::string& path, bool force = false);
  ternion::v1::GcStatusResponse GcStatus();
  // Renames a closed file within its project in one synced write (refused while a writer holds
  // its lease, and when `new_path` exists).
  // With `replace`, the file at `new_path` is deleted in the same step, provided it is still
  // that file at that length and closed (ABORTED otherwise); its policies stay with the path.
  struct Replace {
    uint64_t file_id = 0;
    uint64_t length = 0;
  };
  absl::StatusOr<FileView> RenameFile(const std::string& project, const std::string& path,
                                      const std::string& new_path,
                                      std::optional<Replace> replace = std::nullopt);
  // A sealed, read-only copy of a closed file sharing its chunks (see SnapshotFileRequest).
  absl::StatusOr<FileView> SnapshotFile(const std::string& project, const std::string& path,
                                        const std::string& snapshot_path);

  // Chunk counts come from a walk of the chunk map that starts after the call (in slices, the
  // mutex released between them; concurrent callers share a walk); the rest is current.
  ternion::v1::ClusterStatusResponse ClusterStatus();
  // The same with the chunk counts of the latest walk: never walks (scrapes, the status page).
  ternion::v1::ClusterStatusResponse LatestStatus() { return StatusWith(health_report_.Latest()); }
  // Walks the chunk map for the chunk counts of status and metrics (the daemon calls it every
  // --status-interval, so a /metrics scrape never walks).
  void RefreshChunkHealth() { (void)health_report_.Fresh(); }
  // Every chunk of the namespace (or one project's) that is not healthy, with its file.
  absl::StatusOr<ternion::v1::FsckResponse> Fsck(const std::string& project);

  // Topology administration. Every change is validated, persisted with an audit record, and
  // takes effect at once.
  ternion::v1::GetTopologyResponse GetTopology();
  absl::StatusOr<std::string> AddRack(const ternion::v1::AddRackRequest& req);
  absl::StatusOr<std::string> RemoveRack(const std::string& rack);
  absl::StatusOr<std::string> MoveServer(const std::string& server_id, const std::string& rack);
  absl::StatusOr<std::string> SetServerState(const ternion::v1::SetServerStateRequest& req);
  absl::StatusOr<std::string> ImportTopology(const ternion::v1::ImportTopologyRequest& req);
  ternion::v1::BalancerResponse Balancer(const ternion::v1::BalancerRequest& req);

  // Replica moves, driven by the ReplicationScheduler. TakeMoves plans one slice of the
  // current pass over the chunk map (see StartMovePass) and returns up to `max` moves that fit
  // the per-server copy slots; each taken move must be finished with FinishMoves. FinishMoves
  // records each new replica whose copy succeeded on a chunk that did not change meanwhile, and
  // says per move whether the old replica may now be dropped (true: the record is durable) or
  // the new copy must be (false).
  std::vector<ReplicaMove> TakeMoves(int max);
  std::vector<bool> FinishMoves(absl::Span<const std::pair<ReplicaMove, absl::Status>> done);
  bool FinishMove(const ReplicaMove& move, const absl::Status& copied) {
    return FinishMoves({{move, copied}})[0];
  }
  // The replication limits in force (SetReplicationLimits or `balancer start` change them).
  ternion::v1::ReplicationLimits ReplicationLimits();
  // Sets the non-zero fields of `req` (kept across restarts); returns the limits now in force.
  ternion::v1::ReplicationLimits SetReplicationLimits(const ternion::v1::ReplicationLimits& req);
  // Pauses or resumes every replica move (kept across restarts); returns whether paused.
  bool ReplicationControl(ternion::v1::ReplicationControlRequest::Action action);
  // Sets the log level of this master, of one chunkserver, or of all (see SetLogLevelRequest).
  absl::StatusOr<ternion::v1::SetLogLevelResponse> SetLogLevel(
      const ternion::v1::SetLogLevelRequest& req);
  // Starts, extends or ends the maintenance of one server or one rack (kept across restarts;
  // it ends by itself at its time).
  absl::StatusOr<std::string> SetMaintenance(const ternion::v1::SetMaintenanceRequest& req);

  // A consistent copy of all metadata into `dir` on the master's machine, while serving. `dir`
  // must be new and under the backup root (PERMISSION_DENIED otherwise).
  absl::Status Backup(const std::string& dir);

  // Replicas quarantined or held by the deletion valve; RELEASE adopts, WIPE wipes (see
  // OrphansRequest). Every decision is audited.
  absl::StatusOr<ternion::v1::OrphansResponse> Orphans(const ternion::v1::OrphansRequest& req);

  // The chunk token `token` (security/chunk_token.h: project, chunk, version, mode, client
  // address, copy sources) signed, valid for the token lifetime from now; its expiry goes to
  // *expires_unix_ms.
  std::string SignChunkToken(security::ChunkToken token, int64_t* expires_unix_ms = nullptr) const;
  // Chunkserver `server_id`'s key for durable-length receipts: derived from the token signing
  // key, so it survives restarts; sent to that server only, at its registration.
  security::ReceiptKey ReceiptKeyOf(const std::string& server_id) const;
  // The audit log (audit_log.h). Audit appends one record, durable with the next group. ReadAudit
  // calls `fn` with every chained record after `after_seq` (all those appended before the call
  // included), oldest first, until it returns false. VerifyAudit walks the whole chain: OK with
  // the counts of chained and legacy records, or DATA_LOSS naming the first break.
  void Audit(const AuditEvent& event);
  absl::Status ReadAudit(uint64_t after_seq,
                         const std::function<bool(const ternion::v1::AuditRecord&)>& fn);
  absl::Status VerifyAudit(uint64_t* records, uint64_t* legacy);
  // Verifies the tokens this master signs; chunkservers get it at registration.
  const security::TokenPublicKey& token_public_key() const { return token_key_.public_key; }

  // Row-encryption data keys (master_keys.cc; docs/security.md, "Row encryption"): 32 random
  // bytes per project and version, kept only wrapped by the master key. The newest version
  // encrypts new rows; older ones stay readable until destroyed. Each change is audited.
  struct DataKeyInfo {
    uint32_t version = 0;
    int64_t created_unix_ms = 0;
    int64_t destroyed_unix_ms = 0;  // 0: alive
  };
  // Adds a version (the first is 1); FAILED_PRECONDITION without a master key.
  absl::StatusOr<DataKeyInfo> RotateDataKey(const std::string& project, const std::string& actor);
  // Every version of the project's data key, oldest first.
  absl::StatusOr<std::vector<DataKeyInfo>> ListDataKeys(const std::string& project);
  // The key of `version` (0: the newest) and its version. With `create`, version 1 is made when
  // the project has none (a first writer); else NOT_FOUND. A destroyed version: FAILED_PRECONDITION
  // saying when it was destroyed.
  absl::StatusOr<std::pair<uint32_t, security::SecretBytes>> DataKey(const std::string& project,
                                                                     uint32_t version, bool create,
                                                                     const std::string& actor);
  // Crypto-shredding: forgets the wrapped key of `version` for good, and compacts the store so no
  // older file of it keeps the key. Every row under that version becomes unreadable.
  absl::Status DestroyDataKey(const std::string& project, uint32_t version,
                              const std::string& actor);
  // Master-key rotation: every secret the master keeps (the token signing key, AccessKey
  // secrets, data keys) wrapped by `to` instead, in one audited batch, and the store compacted
  // so no file keeps a secret wrapped by the old key (backups made before still do: they need
  // the old key, and destroying it shreds them). No row is touched. The master is then started
  // with `to`.
  absl::Status RewrapSecrets(const security::MasterKey& to, const std::string& actor);
  // The keys of `columns` of the table at `path` under data key `version` (0: the newest,
  // made for a writer when there is none): HKDF-SHA-512 of the data key with the project, the
  // table id and the column, so no key opens another table's, project's or column's rows. The
  // caller was authorized for these columns; FAILED_PRECONDITION when the file is no table.
  struct ColumnKeys {
    uint64_t table_id = 0;
    uint32_t version = 0;
    std::vector<security::SecretBytes> keys;  // one per column, in order
  };
  absl::StatusOr<ColumnKeys> DeriveColumnKeys(const std::string& project, const std::string& path,
                                              uint32_t version, bool for_write,
                                              const std::vector<std::string>& columns,
                                              const std::string& actor);

  // Users and AccessKeys (access_control.h). Every change is audited naming `actor`, the user
  // who made it.
  const AccessControl& access() const { return access_; }
  // The verified caller as the access policy sees it (nullopt: no such user).
  std::optional<PrincipalView> Principal(const std::string& user);
  // The project as the access policy sees it (nullopt: it does not exist).
  std::optional<ProjectView> Project(const std::string& name);
  // Adds `user` (who must exist) to `project` as a member, with the admin role or not, or
  // removes them and every grant to them. Audited naming `actor`.
  absl::StatusOr<ProjectView> SetProjectMember(const std::string& project,
                                               const std::string& user, bool admin, bool remove,
                                               const std::string& actor);
  // The projects named, as the access policy sees them, as of one moment (projects that do not
  // exist are left out).
  // At the same moment, sets the id of the file at each of `objects` in `project` (0: none).
  PolicySnapshot PolicyState(const std::vector<std::string>& projects, const std::string& project,
                             std::vector<ObjectRef>* objects);
  // Sets the project's IP whitelist (ip_whitelist.h; empty: off). Audited.
  absl::StatusOr<ProjectView> SetProjectWhitelist(const std::string& project,
                                                  const std::string& whitelist,
                                                  const std::string& actor);
  // Turns project protection on or off. Audited.
  absl::StatusOr<ProjectView> SetProjectProtection(const std::string& project, bool on,
                                                   const std::string& actor);
  // `project` trusts `trusted` (which must exist), or no longer (`remove`). Audited.
  absl::StatusOr<ProjectView> SetTrusted(const std::string& project, const std::string& trusted,
                                         bool remove, const std::string& actor);
  // Sets the exception policy of `project` (exception_policy.h; empty: none), pinning each
  // "snapshot:PATH" resource to the sealed file at PATH. Audited.
  absl::StatusOr<ProjectView> SetExceptionPolicy(const std::string& project,
                                                 const std::string& policy,
                                                 const std::string& actor);
  // Packages (master_policies.cc). One change of package `change.package` of `project`:
  // deleting it, or disallowing a project, also uninstalls it there (with the grants on it).
  struct PackageChange {
    enum class Op { kCreate, kDelete, kAdd, kRemove, kAllow, kDisallow };
    Op op = Op::kCreate;
    std::string package;
    PackageEntryView entry;      // kAdd, kRemove
    std::string target_project;  // kAllow, kDisallow
    int label = 0;               // kAllow
  };
  absl::StatusOr<ProjectView> ChangePackage(const std::string& project, const PackageChange& change,
                                            const std::string& actor);
  // Installs `installed` ("<project>.<package>", which must allow `project`) in `project`, or
  // uninstalls it with every grant on it. Audited.
  absl::StatusOr<ProjectView> InstallPackage(const std::string& project,
                                             const std::string& installed, bool uninstall,
                                             const std::string& actor);
  // Label security (master_policies.cc); each audited.
  // Sets the switches given (nullopt: left as they are).
  absl::StatusOr<ProjectView> SetLabelPolicy(const std::string& project,
                                             std::optional<bool> label_security,
                                             std::optional<bool> no_write_down,
                                             const std::string& actor);
  // Sets the label on its object (level 0: removes it).
  absl::StatusOr<ProjectView> SetLabel(const std::string& project, const LabelView& label,
                                       const std::string& actor);
  // Sets a member's clearance (0: the default).
  absl::StatusOr<ProjectView> SetClearance(const std::string& project, const std::string& user,
                                           int level, const std::string& actor);
  // Grants `exception` to its user for `lifetime` (1 s to 366 days; its expiry is set from
  // it), or revokes the one on the same object and column.
  absl::StatusOr<ProjectView> SetLabelException(const std::string& project,
                                                LabelExceptionView exception,
                                                absl::Duration lifetime, bool revoke,
                                                const std::string& actor);
  // Grants `grant.actions` to `grant.grantee` on its object, or revokes them (an entry left with
  // no action goes). The grantee must be a member (or the member role); a file must exist.
  absl::StatusOr<ProjectView> ChangeGrant(const std::string& project, const GrantView& grant,
                                          bool revoke, const std::string& actor);
  absl::StatusOr<UserView> CreateUser(const std::string& name, bool cluster_admin,
                                      const std::string& actor);
  std::vector<UserView> ListUsers();
  absl::StatusOr<UserView> SetUserDisabled(const std::string& name, bool disabled,
                                           const std::string& actor);
  absl::StatusOr<NewAccessKey> CreateAccessKey(const std::string& user, const std::string& actor);
  absl::StatusOr<NewAccessKey> RotateAccessKey(const std::string& id, absl::Duration grace,
                                               const std::string& actor);
  absl::StatusOr<AccessKeyView> RevokeAccessKey(const std::string& id, const std::string& actor);
  std::vector<AccessKeyView> ListAccessKeys(const std::string& user);
  std::optional<AccessKeyView> FindAccessKey(const std::string& id);
  // On a cluster without users: creates the cluster administrator `admin` and a key for it,
  // and returns the key (nullopt when users exist already).
  absl::StatusOr<std::optional<NewAccessKey>> BootstrapAdmin();

  // Checks the invariants that tie the namespace, the chunk map and its indexes together (for
  // tests, under the mutex): every file's chunks exist and are live, each live chunk is
  // referenced by exactly 1 + extra_refs files, and the chunk map's per-server lists and counts
  // agree with it. INTERNAL, naming the first broken one.
  absl::Status CheckInvariants();

  // Refreshes the gauges in the default metrics registry, from the latest chunk health walk.
  void UpdateMetrics();

 private:
  // A quarantined replica as its server last reported it.
  struct Orphan {
    ternion::v1::ReplicaReport report;
    absl::Time first_seen;  // by this master incarnation
  };
  // A report the deletion valve held: the replicas it would have set aside.
  struct HeldReport {
    absl::Time since;
    uint64_t reported = 0;
    std::vector<ternion::v1::ReplicaReport> unknown;
  };
  // What the chunk side knows of one server beyond the chunk map: its replicas set aside
  // (quarantine, a held report, damaged copies) and the operator's decisions on them. Its
  // membership, liveness and load are the ServerRegistry's, under the same ordinal.
  struct ServerState {
    std::string id;
    uint32_t ordinal = 0;
    absl::flat_hash_map<uint64_t, Orphan> quarantined;  // from its latest full report
    std::optional<HeldReport> held;                     // the valve holds its reports
    bool valve_lifted = false;                  // the operator let its next report through
    absl::flat_hash_set<uint64_t> wipe_now;     // the operator said: wipe these
    bool report_wanted = false;                 // orphan decisions wait for its next report
    std::vector<ternion::v1::ReplicaReport> damaged;  // unreadable at its last load, unwiped
    absl::Time orphan_due = absl::InfiniteFuture();  // when a quarantined orphan's delay ends
  };

  Master(std::unique_ptr<MetadataStore> store, const MasterOptions& options)
      : store_(std::move(store)),
        options_(options),
        ns_(options.clock, options.lease_duration, options.lease_hard_limit),
        registry_(options.placement, {.dead_after = options.dead_after,
                                      .suspect_after = options.suspect_after > absl::ZeroDuration()
                                                           ? options.suspect_after
                                                           : options.dead_after / 3}) {
    balancer_band_ = options.balancer_band;
    copy_bandwidth_ = options.copy_bandwidth_bytes_per_s;
  }
  absl::Status Load();
  // Reads the token signing key from the metadata, or makes and stores one (before the log).
  absl::Status LoadTokenKey();
  // The token signing key wrapped by `key`.
  std::string WrappedTokenKey(const security::MasterKey& key) const;
  // Chunk counts by health, from one walk of the chunk map.
  ChunkHealth CountChunkHealth() ABSL_LOCKS_EXCLUDED(chunks_.mu);  // one walk, in slices
  ternion::v1::ClusterStatusResponse StatusWith(const ChunkHealth& h)
      ABSL_LOCKS_EXCLUDED(chunks_.mu);
  // Appends the batch of a change just applied to memory to the log (see WaitDurable). Called
  // with the lock of every component the change touched still held, so the log orders the
  // changes to any one record as memory does.
  void Commit(MetadataBatch batch) { NoteChange(log_->Append(std::move(batch))); }
  // Raises last_change_ to `seq` (called under the lock of the component that changed, so a
  // reader that sees the change sees last_change_ at least as high).
  void NoteChange(uint64_t seq) {
    uint64_t last = last_change_.load(std::memory_order_relaxed);
    while (last < seq &&
           !last_change_.compare_exchange_weak(last, seq, std::memory_order_release)) {
    }
  }
  // FinishMoves' bookkeeping of one move: whether it was recorded.
  bool RecordMove(const ReplicaMove& move, const absl::Status& copied)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu, registry_.mu);

  // Applies a change of users or keys (`change` adds its records to the batch) and its audit
  // record as one batch, under access_.mu.
  template <typename T>
  absl::StatusOr<T> ChangeAccess(const std::function<absl::StatusOr<T>(MetadataBatch*)>& change,
                                 const std::function<std::string(const T&)>& audit);

  // Applies `edit` to a copy of project `project`'s record and commits it with an audit record
  // naming what changed (edit's answer) and `actor`, under ns_.mu (held while `edit` runs, so
  // it may read other projects, and change them into the batch once it cannot refuse). `edit`
  // validates first and leaves the record alone when it refuses; nothing is written then.
  using ProjectEdit = std::function<absl::StatusOr<std::string>(ternion::v1::ProjectRecord* project,
                                                                MetadataBatch* batch)>;
  absl::StatusOr<ProjectView> ChangeProject(const std::string& project, const std::string& actor,
                                            const ProjectEdit& edit);

  // Dense numbering of servers (in the registry, the chunk manager and the chunk side at once).
  ServerState& ServerByName(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu, registry_.mu);
  void PutServer(MetadataBatch* batch, const ternion::v1::ChunkServerRecord& r);
  // Logs the replication limits and pause in force, with `change` as the audit record.
  void SaveReplicationSettings(const std::string& change) ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu);
  // Hands `batch` to the metadata log with the audit record of `event`, in chain order.
  void CommitAudited(MetadataBatch batch, const AuditEvent& event);
  // Load's changes, before the metadata log starts: written to the store with their audit record.
  absl::Status WriteAudited(MetadataBatch batch, const AuditEvent& event);

  // Sweeps the registry for servers whose liveness changed; the chunks of one found dead are
  // examined for repair before any other.
  void RefreshLiveness(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu, registry_.mu);
  // What a server must do after a report: wipe, quarantine, release.
  struct ReportActions {
    std::vector<ternion::v1::ReplicaWipe> remove;
    std::vector<uint64_t> quarantine;
    std::vector<uint64_t> release;
  };
  using Reports = google::protobuf::RepeatedPtrField<ternion::v1::ReplicaReport>;
  // A full replica report (live and quarantined replicas) by chunk id, built before the mutex
  // is taken.
  struct ReportIndex {
    ReportIndex(const Reports& reports, const Reports& quarantined);
    absl::flat_hash_map<uint64_t, const ternion::v1::ReplicaReport*> reported, set_aside;
  };
  // Reconciles a full replica report of `s`. Replicas in `lost` (the server lost them for
  // certain: failed disk, corruption) are dropped at once.
  ReportActions Reconcile(ServerState& s, const ReportIndex& report, absl::Time now,
                          const absl::flat_hash_set<uint64_t>& lost = {})
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu) ABSL_SHARED_LOCKS_REQUIRED(registry_.mu);
  static void FillReportResponse(
      const ReportActions& actions,
      google::protobuf::RepeatedPtrField<ternion::v1::ReplicaWipe>* remove,
      google::protobuf::RepeatedField<uint64_t>* quarantine,
      google::protobuf::RepeatedField<uint64_t>* release);
  int LiveReplicas(const ChunkEntry& e, absl::Time now)
      ABSL_SHARED_LOCKS_REQUIRED(chunks_.mu, registry_.mu);
  // What the report planner needs to know of chunk `e` (null: unknown) for a replica on `s`.
  ChunkFacts FactsOf(const ChunkEntry* e, const ServerState& s, absl::Time now)
      ABSL_SHARED_LOCKS_REQUIRED(chunks_.mu, registry_.mu);
  ternion::v1::OrphansResponse ListOrphans(const ternion::v1::OrphansRequest& req, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu);
  // Makes an unknown chunk a sealed file <project>/lost+found/chunk-<id> held by `copies`.
  absl::StatusOr<std::string> AdoptOrphan(
      uint64_t id, const std::vector<std::pair<ServerState*, ternion::v1::ReplicaReport>>& copies)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(ns_.mu, chunks_.mu);
  // Damaged copies of a chunk kept in quarantine: (server, its report), from corrupt_copies_.
  std::vector<std::pair<const ServerState*, const Orphan*>> CorruptCopies(uint64_t id)
      ABSL_SHARED_LOCKS_REQUIRED(chunks_.mu);
  // Replaces what `s` holds in quarantine, keeping corrupt_copies_ in step.
  void SetQuarantined(ServerState& s, absl::flat_hash_map<uint64_t, Orphan> quarantined)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu);
  // Replicas set aside across the cluster, for status, gc status and metrics.
  struct SetAsideCounts {
    uint64_t orphans = 0;       // quarantined, chunk unknown
    uint64_t corrupt = 0;       // quarantined with bad blocks
    uint64_t held_servers = 0;  // reports held by the deletion valve
    uint64_t unwiped = 0;       // on failed disks, or damaged at load
  };
  SetAsideCounts CountSetAside() ABSL_SHARED_LOCKS_REQUIRED(chunks_.mu);
  // Move planning. A pass examines the whole chunk map, in slices of bounded size (one per
  // TakeMoves), so no call holds the mutex for a walk of the map; chunks flagged by events (a
  // server died, a report dropped replicas) are examined first. StartMovePass takes the
  // balancer's figures for the pass; PlanMove queues the move one chunk needs, if any;
  // FinishMovePass ends the pass (and the drains it completed).
  void StartMovePass(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu, registry_.mu);
  // Examines up to `budget` chunks (flagged ones first); returns how many it examined (fewer
  // when the queue filled or nothing was left).
  size_t ScanMoveSlice(absl::Time now, size_t budget)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu, registry_.mu);
  void PlanMove(uint64_t id, const ChunkEntry& e, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu, registry_.mu);
  void FinishMovePass(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu, registry_.mu);
  // Whether a chunk's bytes can no longer change (full, sealed, its file has no writer, or the
  // writer's lease was recovered).
  bool ChunkStable(const ChunkEntry& e) ABSL_SHARED_LOCKS_REQUIRED(chunks_.mu);
  // Its replicas: the chunks the map places on it (deleted ones included until wiped).
  void FillServerStatus(const ServerInfo& s, absl::Time now, ternion::v1::ChunkServerStatus* out)
      ABSL_SHARED_LOCKS_REQUIRED(chunks_.mu, registry_.mu);
  // Validates and applies topology changes as one batch with one audit record.
  absl::StatusOr<std::string> ApplyTopology(const ternion::v1::ImportTopologyRequest& req,
                                            const std::string& action)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu, registry_.mu);

  absl::Time Now() const { return options_.clock->Now(); }
  int64_t NowMs() const { return options_.clock->NowMs(); }
  // The answer to a call that granted or renewed the lease on `f`.
  Lease LeaseOf(const ternion::v1::FileRecord& f) ABSL_SHARED_LOCKS_REQUIRED(ns_.mu);
  // The file as clients see it (its chunks: call ViewOf for each, under chunks_.mu).
  FileView ViewOf(const ternion::v1::FileRecord& f) ABSL_SHARED_LOCKS_REQUIRED(ns_.mu);
  FileView ViewWithChunks(const ternion::v1::FileRecord& f)
      ABSL_SHARED_LOCKS_REQUIRED(ns_.mu, chunks_.mu, registry_.mu);
  ChunkView ViewOf(uint64_t id, const ChunkEntry& c)
      ABSL_SHARED_LOCKS_REQUIRED(chunks_.mu, registry_.mu);
  // Counts the live replicas of a chunk and whether they sit in distinct racks.
  void ReplicaHealth(const ChunkEntry& c, absl::Time now, int* live, bool* rack_safe)
      ABSL_SHARED_LOCKS_REQUIRED(chunks_.mu, registry_.mu);

  const std::unique_ptr<MetadataStore> store_;
  const MasterOptions options_;
  std::unique_ptr<MetadataLog> log_;  // set by Open after Load; destroyed first (drains)
  std::string cluster_id_;  // set by Load, then constant
  security::TokenSigningKey token_key_;  // set by Load, then constant
  // Says why a chunkserver stamped with `their_id` (empty: not stamped yet) may not join.
  absl::Status CheckClusterId(const std::string& server_id, const std::string& their_id) const;

  // Lock order (docs/architecture.md): health_report_'s lock, then ns_.mu, then access_.mu, then
  // chunks_.mu, then registry_.mu, then the file facts' lock (ns_.facts()), then audit_.mu, then
  // the log's. A chunk-health walk takes chunks_.mu slice by slice.
  ChunkHealthReport health_report_{[this] { return CountChunkHealth(); }};
  // Projects, files and leases, under their own lock ns_.mu.
  Namespace ns_;
  // The audit log's head (sequence and last hash), under audit_.mu.
  AuditLog audit_;
  std::atomic<uint64_t> last_change_{0};
  // Users and AccessKeys, under access_.mu (after ns_.mu, before chunks_.mu).
  AccessControl access_{options_.master_key, options_.clock};
  // The projects' data keys by (project, version), wrapped; a leaf lock.
  absl::Mutex keys_mu_;
  std::map<std::pair<std::string, uint32_t>, ternion::v1::DataKeyRecord> data_keys_
      ABSL_GUARDED_BY(keys_mu_);
  // The chunk map, versions, allocation and deleted chunks, under their own lock chunks_.mu.
  // Under the same lock the master keeps the chunk side of its decisions below: each server's
  // set-aside replicas, moves, and garbage collection.
  ChunkManager chunks_{options_.clock};
  // The chunkservers: membership, liveness, load, racks and placement, under registry_.mu.
  ServerRegistry registry_;
  absl::BitGen gen_ ABSL_GUARDED_BY(chunks_.mu);
  std::map<std::string, ServerState> servers_ ABSL_GUARDED_BY(chunks_.mu);  // nodes are stable
  std::vector<ServerState*> server_by_ordinal_ ABSL_GUARDED_BY(chunks_.mu);

  // Replica moves: planned, then taken by the scheduler, then finished.
  std::vector<ReplicaMove> move_queue_ ABSL_GUARDED_BY(chunks_.mu);
  absl::flat_hash_set<uint64_t> queued_chunks_
      ABSL_GUARDED_BY(chunks_.mu);                                       // chunks in move_queue_
  absl::btree_set<uint64_t> urgent_chunks_ ABSL_GUARDED_BY(chunks_.mu);  // examine these first
  struct MovePass {
    bool running = false;
    uint64_t cursor = 0;  // the next chunk id to examine
    bool settled = true;  // the balancer's previous moves are done and reported
    std::vector<int64_t> excess, deficit;  // bytes each server is above / below the mean fill
    std::vector<uint32_t> not_below_mean;
  };
  MovePass pass_ ABSL_GUARDED_BY(chunks_.mu);
  absl::flat_hash_map<uint64_t, ReplicaMove> moves_in_flight_ ABSL_GUARDED_BY(chunks_.mu);
  absl::Time last_move_scan_ ABSL_GUARDED_BY(chunks_.mu) = absl::InfinitePast();
  // Until --dead-after has passed since start, servers may not have re-registered yet: no
  // repairs (like HDFS safe mode), so a master restart starts no re-replication storm.
  const absl::Time started_ = options_.clock->Now();
  bool balancer_running_ ABSL_GUARDED_BY(chunks_.mu) = false;
  double balancer_band_ ABSL_GUARDED_BY(chunks_.mu);
  uint64_t copy_bandwidth_ ABSL_GUARDED_BY(chunks_.mu);  // per server, into it
  bool replication_paused_ ABSL_GUARDED_BY(chunks_.mu) = false;
  CopySlots copy_slots_ ABSL_GUARDED_BY(chunks_.mu){options_.copies_per_server};
  uint64_t balancer_bytes_moved_ ABSL_GUARDED_BY(chunks_.mu) = 0;
  uint64_t balancer_moves_done_ ABSL_GUARDED_BY(chunks_.mu) = 0;
  uint64_t replicas_repaired_ ABSL_GUARDED_BY(chunks_.mu) = 0;
  uint64_t bytes_repaired_ ABSL_GUARDED_BY(chunks_.mu) = 0;
  uint64_t corrupt_replicas_ ABSL_GUARDED_BY(chunks_.mu) = 0;
  uint64_t valve_trips_ ABSL_GUARDED_BY(chunks_.mu) = 0;
  // Garbage collection (the deleted chunks themselves are in chunks_): when each holder was
  // last told to wipe (told again after a while until it confirms), and totals.
  // Replicas lost with a failed disk, never wiped: (server id, chunk id), persisted under u/,
  // until an operator acknowledges the disk as destroyed.
  std::set<std::pair<std::string, uint64_t>> unwiped_ ABSL_GUARDED_BY(chunks_.mu);
  // Chunk -> ordinals of the servers holding a damaged copy of it in quarantine: an index of
  // the servers' `quarantined` maps, so a chunk's damaged copies are found without a walk.
  absl::flat_hash_map<uint64_t, std::vector<uint32_t>> corrupt_copies_ ABSL_GUARDED_BY(chunks_.mu);
  // 64 wipes per server per heartbeat; unconfirmed ones asked again after 30 s.
  WipeHandout wipe_handout_ ABSL_GUARDED_BY(chunks_.mu){64, absl::Seconds(30)};
  uint64_t bytes_wiped_ ABSL_GUARDED_BY(chunks_.mu) = 0;
  uint64_t replicas_wiped_ ABSL_GUARDED_BY(chunks_.mu) = 0;
  // Records that `s` no longer holds replicas of these deleted chunks (wiped, or absent from its
  // report); a chunk wiped everywhere is forgotten.
  void RecordWiped(ServerState& s, const std::vector<uint64_t>& ids)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu);
  // Takes the wipes `s` reports and hands it the next ones (in a heartbeat).
  void CollectGarbage(ServerState& s, const ternion::v1::HeartbeatRequest& req,
                      ternion::v1::HeartbeatResponse* resp)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(chunks_.mu);
};

}  // namespace ternion::master
