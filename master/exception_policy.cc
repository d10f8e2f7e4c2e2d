#include "master/exception_policy.h"

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/names.h"

namespace ternion::master {
namespace {

using json = nlohmann::json;

absl::Status Invalid(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("exception policy: ", where, ": ", what));
}

// The non-empty list of strings at `key` of `j` (a string alone counts as a list of one).
absl::StatusOr<std::vector<std::string>> Strings(const json& j, const char* key,
                                                 const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) return Invalid(where, absl::StrCat("no ", key));
  std::vector<std::string> out;
  const json list = it->is_array() ? *it : json::array({*it});
  for (const json& v : list) {
    if (!v.is_string()) return Invalid(where, absl::StrCat(key, " holds a non-string"));
    out.push_back(v.get<std::string>());
  }
  if (out.empty() || out.size() > kMaxExceptionListEntries) {
    return Invalid(where, absl::StrCat(key, " needs 1 to ", kMaxExceptionListEntries, " entries"));
  }
  return out;
}

// The string at `key` of object `j`; empty when absent or not a string (json::value would
// throw on a value of another type).
std::string StringAt(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

absl::Status OnlyKeys(const json& j, std::initializer_list<const char*> keys,
                      const std::string& where) {
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (const char* k : keys) known |= key == k;
    if (!known) return Invalid(where, absl::StrCat("unknown key ", key));
  }
  return absl::OkStatus();
}

absl::Status CheckResource(const std::string& r, const std::string& where) {
  if (r == "*") return absl::OkStatus();
  std::string path = r;
  if (absl::StartsWith(path, kSnapshotResourcePrefix)) {
    path = path.substr(sizeof(kSnapshotResourcePrefix) - 1);
  } else if (absl::EndsWith(path, "*")) {
    path.pop_back();
    while (absl::EndsWith(path, "/")) path.pop_back();
  }
  if (absl::Status s = ValidatePath(path); !s.ok()) {
    return Invalid(where, absl::StrCat("resource ", r, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<ExceptionStatement> ParseStatement(const json& j, const std::string& where) {
  if (!j.is_object()) return Invalid(where, "not an object");
  if (absl::Status s =
          OnlyKeys(j, {"Effect", "Principal", "Action", "Resource", "Condition"}, where);
      !s.ok()) {
    return s;
  }
  if (StringAt(j, "Effect") != "Allow") return Invalid(where, "Effect must be \"Allow\"");
  ExceptionStatement st;
  absl::StatusOr<std::vector<std::string>> principals = Strings(j, "Principal", where);
  if (!principals.ok()) return principals.status();
  for (const std::string& p : *principals) {
    if (p != "*" && !ValidateUserName(p).ok()) return Invalid(where, "bad principal " + p);
  }
  st.principals = *principals;
  absl::StatusOr<std::vector<std::string>> actions = Strings(j, "Action", where);
  if (!actions.ok()) return actions.status();
  for (const std::string& a : *actions) {
    std::optional<Action> action = ActionFromName(a);
    if (!action.has_value()) return Invalid(where, "unknown action " + a);
    st.actions |= ActionBit(*action);
  }
  absl::StatusOr<std::vector<std::string>> resources = Strings(j, "Resource", where);
  if (!resources.ok()) return resources.status();
  for (const std::string& r : *resources) {
    if (absl::Status s = CheckResource(r, where); !s.ok()) return s;
    st.resources.push_back({.path = r});
  }
  if (auto c = j.find("Condition"); c != j.end()) {
    if (!c->is_object()) return Invalid(where, "Condition is not an object");
    if (absl::Status s = OnlyKeys(*c, {"StringEquals"}, where + " Condition"); !s.ok()) return s;
    auto eq = c->find("StringEquals");
    if (eq == c->end() || !eq->is_object()) return Invalid(where, "Condition needs StringEquals");
    if (absl::Status s = OnlyKeys(*eq, {"task_type"}, where + " StringEquals"); !s.ok()) return s;
    absl::StatusOr<std::vector<std::string>> tasks = Strings(*eq, "task_type", where);
    if (!tasks.ok()) return tasks.status();
    st.task_types = *tasks;
  }
  return st;
}

}  // namespace

absl::StatusOr<std::vector<ExceptionStatement>> ParseExceptionPolicy(const std::string& text) {
  if (text.empty()) return std::vector<ExceptionStatement>{};
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Invalid("document", "not valid JSON");
  if (!doc.is_object()) return Invalid("document", "not a JSON object");
  if (absl::Status s = OnlyKeys(doc, {"Version", "Statement"}, "document"); !s.ok()) return s;
  if (StringAt(doc, "Version") != "1") return Invalid("document", "Version must be \"1\"");
  auto statements = doc.find("Statement");
  if (statements == doc.end() || !statements->is_array() ||
      statements->size() > kMaxExceptionStatements) {
    return Invalid("document",
                   absl::StrCat("Statement must be a list of at most ", kMaxExceptionStatements));
  }
  std::vector<ExceptionStatement> out;
  for (size_t i = 0; i < statements->size(); ++i) {
    absl::StatusOr<ExceptionStatement> st =
        ParseStatement((*statements)[i], absl::StrCat("statement ", i + 1));
    if (!st.ok()) return st.status();
    out.push_back(*std::move(st));
  }
  return out;
}

}  // namespace ternion::master
