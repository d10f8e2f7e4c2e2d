// Writes a file into a project, reads it back and prints what it read. The master, the
// credentials and the CA come from the profile TERNION_PROFILE names (LoadCredentials).
//   example_job PROJECT PATH TEXT
#include <iostream>
#include <memory>
#include <string>

#include "ternion/client.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: example_job PROJECT PATH TEXT\n";
    return 2;
  }
  const std::string project = argv[1], path = argv[2], text = argv[3];
  ternion::ClientOptions options;
  if (absl::Status s = ternion::LoadCredentials("", &options); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<ternion::Client>> client = ternion::Client::Connect(options);
  if (!client.ok()) {
    std::cerr << client.status() << "\n";
    return 1;
  }
  absl::StatusOr<std::unique_ptr<ternion::FileWriter>> writer = (*client)->Create(project, path);
  absl::Status s = writer.status();
  if (s.ok()) s = (*writer)->Append(text);
  if (s.ok()) s = (*writer)->Close();
  std::string read;
  if (s.ok()) {
    absl::StatusOr<std::unique_ptr<ternion::FileReader>> reader = (*client)->Open(project, path);
    s = reader.ok() ? (*reader)->ReadAt(0, (*reader)->length(), &read) : reader.status();
  }
  if (!s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  std::cout << read << "\n";
  return 0;
}
