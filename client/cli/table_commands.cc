// `ternion table create|put|scan|schema|reencrypt`: small tables of encrypted rows from the
// command line, rows as JSON lines (one object per row, keyed by column; bytes in base64).

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli/access_commands.h"

namespace ternion::cli {
namespace {

using ordered_json = nlohmann::ordered_json;

// A line of input holds at most one row: a row holds at most 16 MiB (base64 makes it more).
constexpr size_t kMaxLineBytes = 24 << 20;

constexpr std::pair<const char*, ColumnType> kTypes[] = {{"bytes", ColumnType::kBytes},
                                                         {"string", ColumnType::kString},
                                                         {"int64", ColumnType::kInt64},
                                                         {"double", ColumnType::kDouble},
                                                         {"bool", ColumnType::kBool}};

const char* TypeName(ColumnType t) {
  for (const auto& [name, type] : kTypes) {
    if (type == t) return name;
  }
  return "unknown";
}

absl::StatusOr<TableSchema> ParseSchema(const std::vector<std::string>& columns) {
  TableSchema schema;
  for (const std::string& c : columns) {
    std::vector<std::string> parts = absl::StrSplit(c, ':');
    const ColumnType* type = nullptr;
    for (const auto& [name, t] : kTypes) {
      if (parts.size() == 2 && parts[1] == name) type = &t;
    }
    if (type == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a column is NAME:TYPE with TYPE bytes, string, int64, double or bool, not '", c, "'"));
    }
    schema.columns.push_back({parts[0], *type});
  }
  return schema;
}

// The JSON of a value; bytes in base64.
ordered_json ToJson(const ColumnSpec& c, const Value& v) {
  if (std::holds_alternative<std::monostate>(v)) return nullptr;
  if (const auto* s = std::get_if<std::string>(&v)) {
    return c.type == ColumnType::kBytes ? absl::Base64Escape(*s) : *s;
  }
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return *d;
  return std::get<bool>(v);
}

absl::StatusOr<Value> FromJson(const ColumnSpec& c, const ordered_json& j) {
  if (j.is_null()) return Value{};
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("column ", c.name, " holds ", TypeName(c.type), " values, not ", j.dump()));
  };
  switch (c.type) {
    case ColumnType::kString:
      if (!j.is_string()) return bad();
      return Value{j.get<std::string>()};
    case ColumnType::kBytes: {
      std::string bytes;
      if (!j.is_string() || !absl::Base64Unescape(j.get<std::string>(), &bytes)) return bad();
      return Value{std::move(bytes)};
    }
    case ColumnType::kInt64:
      if (!j.is_number_integer()) return bad();
      return Value{j.get<int64_t>()};
    case ColumnType::kDouble:
      if (!j.is_number()) return bad();
      return Value{j.get<double>()};
    case ColumnType::kBool:
      if (!j.is_boolean()) return bad();
      return Value{j.get<bool>()};
  }
  return bad();
}

absl::StatusOr<std::vector<Value>> ParseRow(const TableSchema& schema, const std::string& line) {
  const ordered_json j = ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("a row is one JSON object keyed by column");
  }
  std::vector<Value> values(schema.columns.size());
  for (const auto& [key, value] : j.items()) {
    size_t i = 0;
    while (i < schema.columns.size() && schema.columns[i].name != key) ++i;
    if (i == schema.columns.size()) {
      if (key == "_row") continue;  // as `table scan` prints it
      return absl::InvalidArgumentError(absl::StrCat("the table has no column ", key));
    }
    absl::StatusOr<Value> v = FromJson(schema.columns[i], value);
    if (!v.ok()) return v.status();
    values[i] = *std::move(v);
  }
  return values;
}

// The table a command names, and a client connected as the caller.
struct Target {
  std::string project, path;
  std::unique_ptr<Client> client;
};
absl::StatusOr<Target> Open(const Globals& g, const std::string& target) {
  Target t;
  if (absl::Status s = SplitTarget(target, true, &t.project, &t.path); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<Client>> client = Connect(g);
  if (!client.ok()) return client.status();
  t.client = *std::move(client);
  return t;
}

int Create(const Globals& g, const std::string& target, const std::vector<std::string>& columns,
           uint64_t chunk_size_mib) {
  absl::StatusOr<TableSchema> schema = ParseSchema(columns);
  if (!schema.ok()) return Fail(schema.status());
  absl::StatusOr<Target> t = Open(g, target);
  if (!t.ok()) return Fail(t.status());
  absl::StatusOr<std::unique_ptr<TableWriter>> w =
      t->client->CreateTable(t->project, t->path, *schema, {.chunk_size = chunk_size_mib << 20});
  if (!w.ok()) return Fail(w.status());
  if (absl::Status s = (*w)->Close(); !s.ok()) return Fail(s);
  std::cout << "created table " << target << " with " << schema->columns.size() << " columns\n";
  return 0;
}

int Put(const Globals& g, const std::string& target, const std::string& file) {
  std::ifstream in_file;
  if (!file.empty()) {
    in_file.open(file);
    if (!in_file) return Fail(absl::NotFoundError(absl::StrCat("cannot read ", file)));
  }
  std::istream& in = file.empty() ? std::cin : in_file;
  absl::StatusOr<Target> t = Open(g, target);
  if (!t.ok()) return Fail(t.status());
  absl::StatusOr<std::unique_ptr<TableWriter>> w =
      t->client->OpenTableForAppend(t->project, t->path);
  if (!w.ok()) return Fail(w.status());
  const uint64_t first = (*w)->next_row_id();
  std::string line;
  for (uint64_t n = 1; std::getline(in, line); ++n) {
    if (line.size() > kMaxLineBytes) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("line ", n, " is longer than ", kMaxLineBytes, " bytes")));
    }
    if (line.empty()) continue;
    absl::StatusOr<std::vector<Value>> row = ParseRow((*w)->schema(), line);
    absl::Status s = row.status();
    if (s.ok()) s = (*w)->Append(*std::move(row)).status();
    if (!s.ok()) {
      // The rows before this line stay: flush them, and say which line failed.
      (void)(*w)->Close();
      return Fail(
          absl::Status(s.code(), absl::StrCat("line ", n, ": ", s.message(), " (rows ", first, "-",
                                              (*w)->next_row_id(), " before it were appended)")));
    }
  }
  if (absl::Status s = (*w)->Close(); !s.ok()) return Fail(s);
  const uint64_t end = (*w)->next_row_id();
  std::cout << "appended " << end - first << " rows to " << target;
  if (end > first) std::cout << " (row ids " << first << "-" << end - 1 << ")";
  std::cout << "\n";
  return 0;
}

int Scan(const Globals& g, const std::string& target, uint64_t from, uint64_t limit) {
  absl::StatusOr<Target> t = Open(g, target);
  if (!t.ok()) return Fail(t.status());
  absl::StatusOr<std::unique_ptr<TableReader>> r =
      t->client->OpenTable(t->project, t->path, g.columns);
  if (!r.ok()) return Fail(r.status());
  if (from > 0) {
    if (absl::Status s = (*r)->Seek(from); !s.ok()) return Fail(s);
  }
  const TableSchema& schema = (*r)->schema();
  Row row;
  for (uint64_t n = 0; limit == 0 || n < limit; ++n) {
    absl::StatusOr<bool> more = (*r)->Next(&row);
    if (!more.ok()) return Fail(more.status());
    if (!*more) break;
    ordered_json j;
    j["_row"] = row.id;
    for (size_t i = 0; i < schema.columns.size(); ++i) {
      if (g.columns.empty() || std::find(g.columns.begin(), g.columns.end(),
                                         schema.columns[i].name) != g.columns.end()) {
        j[schema.columns[i].name] = ToJson(schema.columns[i], row.values[i]);
      }
    }
    std::cout << j.dump(-1, ' ', false, ordered_json::error_handler_t::replace) << "\n";
  }
  return 0;
}

int Schema(const Globals& g, const std::string& target) {
  absl::StatusOr<Target> t = Open(g, target);
  if (!t.ok()) return Fail(t.status());
  absl::StatusOr<std::unique_ptr<TableReader>> r =
      t->client->OpenTable(t->project, t->path, g.columns);
  if (!r.ok()) return Fail(r.status());
  ordered_json columns = ordered_json::array();
  for (const ColumnSpec& c : (*r)->schema().columns) {
    if (g.json) {
      columns.push_back({{"name", c.name}, {"type", TypeName(c.type)}});
    } else {
      std::cout << c.name << " " << TypeName(c.type) << "\n";
    }
  }
  if (g.json) std::cout << columns.dump(2) << "\n";
  return 0;
}

int Reencrypt(const Globals& g, const std::string& target) {
  absl::StatusOr<Target> t = Open(g, target);
  if (!t.ok()) return Fail(t.status());
  absl::StatusOr<uint64_t> rows = t->client->ReencryptTable(t->project, t->path);
  if (!rows.ok()) return Fail(rows.status());
  std::cout << "re-encrypted " << *rows << " rows of " << target
            << " under the project's newest data key\n";
  return 0;
}

}  // namespace

void AddTableCommands(CLI::App& app, const Globals& g, int* rc) {
  auto* table =
      app.add_subcommand("table", "Tables of rows encrypted in this process (rows as JSON lines)");
  table->require_subcommand(1);
  // Option values live as long as the app: they are static to this function's single call.
  static std::string target, file;
  static std::vector<std::string> columns;
  static uint64_t chunk_size_mib = 0, from = 0, limit = 0;

  auto* create = table->add_subcommand("create", "Create table PROJECT/PATH");
  create->add_option("target", target, "PROJECT/PATH")->required();
  create->add_option("--column", columns, "NAME:TYPE (bytes, string, int64, double, bool)")
      ->required();
  create->add_option("--chunk-size-mib", chunk_size_mib, "Chunk size in MiB (default: master's)");
  create->callback([&g, rc] { *rc = Create(g, target, columns, chunk_size_mib); });

  auto* put = table->add_subcommand(
      "put", "Append rows (JSON objects, one per line, from stdin or --file); bytes in base64");
  put->add_option("target", target, "PROJECT/PATH")->required();
  put->add_option("--file", file, "Read the rows from this file");
  put->callback([&g, rc] { *rc = Put(g, target, file); });

  auto* scan = table->add_subcommand(
      "scan", "Print rows as JSON lines (\"_row\": the row id); --columns to read fewer");
  scan->add_option("target", target, "PROJECT/PATH")->required();
  scan->add_option("--from", from, "Start at this row id");
  scan->add_option("--limit", limit, "Print at most this many rows (0: all)");
  scan->callback([&g, rc] { *rc = Scan(g, target, from, limit); });

  auto* schema = table->add_subcommand("schema", "Print the table's columns and types");
  schema->add_option("target", target, "PROJECT/PATH")->required();
  schema->callback([&g, rc] { *rc = Schema(g, target); });

  auto* reencrypt = table->add_subcommand(
      "reencrypt", "Rewrite every row under the project's newest data key (online)");
  reencrypt->add_option("target", target, "PROJECT/PATH")->required();
  reencrypt->callback([&g, rc] { *rc = Reencrypt(g, target); });
}

}  // namespace ternion::cli
