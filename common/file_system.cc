#include "common/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace ternion {

FileSystem* FileSystem::Default() {
  static FileSystem* fs = new FileSystem();
  return fs;
}

absl::StatusOr<int> FileSystem::Open(const std::string& path, int flags, int mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("open ", path));
  return fd;
}

void FileSystem::Close(int fd) { ::close(fd); }

absl::StatusOr<size_t> FileSystem::PWrite(int fd, const char* data, size_t n, uint64_t offset) {
  ssize_t w;
  do {
    w = ::pwrite(fd, data, n, offset);
  } while (w < 0 && errno == EINTR);
  if (w < 0) return ErrnoToStatus(errno, "write");
  return static_cast<size_t>(w);
}

absl::StatusOr<size_t> FileSystem::PRead(int fd, char* data, size_t n, uint64_t offset) {
  ssize_t r;
  do {
    r = ::pread(fd, data, n, offset);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return ErrnoToStatus(errno, "read");
  return static_cast<size_t>(r);
}

absl::Status FileSystem::DataSync(int fd) {
  if (::fdatasync(fd) != 0) return ErrnoToStatus(errno, "fdatasync");
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FileSystem::FileSize(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoToStatus(errno, "stat");
  return static_cast<uint64_t>(st.st_size);
}

absl::Status FileSystem::Truncate(int fd, uint64_t length) {
  if (::ftruncate(fd, length) != 0) return ErrnoToStatus(errno, "truncate");
  return absl::OkStatus();
}

absl::Status FileSystem::Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("rename ", from, " to ", to));
  }
  return absl::OkStatus();
}

absl::Status FileSystem::Unlink(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return ErrnoToStatus(errno, absl::StrCat("unlink ", path));
  return absl::OkStatus();
}

absl::Status FileSystem::MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) return ErrnoToStatus(errno, absl::StrCat("mkdir ", path));
  return absl::OkStatus();
}

absl::Status FileSystem::SyncDir(const std::string& dir) { return ternion::SyncDir(dir); }

std::vector<std::string> FileSystem::ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') names.push_back(e->d_name);
  }
  ::closedir(d);
  return names;
}

bool FileSystem::Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

absl::StatusOr<uint64_t> FileSystem::AvailableBytes(const std::string& dir) {
  struct statvfs vfs;
  if (::statvfs(dir.c_str(), &vfs) != 0) return ErrnoToStatus(errno, absl::StrCat("statvfs ", dir));
  return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

namespace {
absl::Status About(const absl::Status& s, const std::string& what) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(s.message(), " (", what, ")"));
}
}  // namespace

absl::Status FileSystem::WriteAll(int fd, const char* data, size_t n, uint64_t offset,
                                  const std::string& what) {
  while (n > 0) {
    absl::StatusOr<size_t> w = PWrite(fd, data, n, offset);
    if (!w.ok()) return About(w.status(), what);
    if (*w == 0) return absl::InternalError(absl::StrCat("short write to ", what));
    data += *w;
    n -= *w;
    offset += *w;
  }
  return absl::OkStatus();
}

absl::Status FileSystem::ReadAll(int fd, char* data, size_t n, uint64_t offset,
                                 const std::string& what) {
  while (n > 0) {
    absl::StatusOr<size_t> r = PRead(fd, data, n, offset);
    if (!r.ok()) return About(r.status(), what);
    if (*r == 0) return absl::DataLossError(absl::StrCat(what, " is shorter than expected"));
    data += *r;
    n -= *r;
    offset += *r;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FileSystem::ReadFile(const std::string& path) {
  absl::StatusOr<int> fd = Open(path, O_RDONLY);
  if (!fd.ok()) return fd.status();
  // Until the end, not to a size read first: /proc files report none.
  std::string out;
  absl::Status s;
  while (true) {
    const size_t have = out.size();
    out.resize(have + 65536);
    absl::StatusOr<size_t> r = PRead(*fd, out.data() + have, 65536, have);
    if (!r.ok()) {
      s = About(r.status(), path);
      break;
    }
    out.resize(have + *r);
    if (*r == 0) break;
  }
  Close(*fd);
  if (!s.ok()) return s;
  return out;
}

absl::Status FileSystem::WriteFileAtomically(const std::string& path, absl::string_view contents,
                                             int mode) {
  const std::string tmp = path + ".tmp";
  absl::StatusOr<int> fd = Open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (!fd.ok()) return fd.status();
  // A leftover temp file keeps its old mode through O_TRUNC: set it (before any byte is written).
  if (::fchmod(*fd, mode) != 0) {
    const int err = errno;
    Close(*fd);
    return ErrnoToStatus(err, absl::StrCat("chmod ", tmp));
  }
  absl::Status s = WriteAll(*fd, contents.data(), contents.size(), 0, tmp);
  if (s.ok()) s = About(DataSync(*fd), tmp);
  Close(*fd);
  if (s.ok()) s = Rename(tmp, path);
  const size_t slash = path.find_last_of('/');
  if (s.ok()) s = SyncDir(slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash));
  return s;
}

}  // namespace ternion
