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

}  // namespace ternion
