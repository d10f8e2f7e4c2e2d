// The access decision (master/access_policy.h) against a small reference model written
// separately from the rules of docs/security.md ("Order of checks"): random users, projects,
// objects, grants, labels, clearances, label exceptions, packages, trust and exception
// statements, and tens of thousands of random requests; every decision must agree with the
// model on whether it is allowed and, when refused, on the rule that refused.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "master/access_policy.h"

namespace ternion::master {
namespace {

using Object = GrantView::Object;

const std::vector<std::string> kUsers = {"u0", "u1", "u2", "u3", "u4"};
const std::vector<std::string> kProjects = {"p0", "p1", "p2"};
const std::vector<std::string> kPaths = {"a", "a/b", "a/c", "ab", "d"};
const std::vector<std::string> kPrefixes = {"a", "a/", "d", "x/"};
const std::vector<std::string> kColumns = {"c0", "c1"};
const std::vector<std::string> kIps = {"127.0.0.1", "10.0.0.7"};
const std::vector<std::string> kTaskTypes = {"sql", "ml"};
constexpr int64_t kNow = 1'000'000;

// ---- the reference model: the rules, one by one, over the same views ----

bool In(const std::vector<std::string>& v, const std::string& x) {
  return std::count(v.begin(), v.end(), x) > 0;
}

// Whether something placed on `object` at `at` reaches `path` ("" is the project itself).
bool Reaches(Object object, const std::string& at, const std::string& path) {
  if (object == Object::kProject) return true;
  if (path.empty()) return false;
  if (object == Object::kFile) return at == path;
  if (object == Object::kPrefix) return path.substr(0, at.size()) == at;
  return false;
}

struct ModelVerdict {
  bool allowed;
  std::string rule;  // of a refusal
};

ModelVerdict ModelDecide(const PrincipalView& who, const AccessRequest& r,
                         const PolicySnapshot& s) {
  const ModelVerdict yes{true, ""};
  auto no = [](const char* rule) { return ModelVerdict{false, rule}; };
  if (who.cluster_admin) return yes;
  if (r.need.scope == Requirement::Scope::kAuthenticated) return yes;
  if (r.need.scope == Requirement::Scope::kCluster) return no("cluster-role");
  const std::string& user = who.user;
  const Action action = r.need.action;
  const uint32_t bit = 1u << static_cast<int>(action);
  const bool reads = action == Action::kRead || action == Action::kDownload;

  // Project state.
  if (!s.projects.count(r.project)) return no("project-state");
  const ProjectView& p = s.projects.at(r.project);
  const std::string ctx_name = r.context_project.empty() ? r.project : r.context_project;
  if (!s.projects.count(ctx_name)) return no("project-state");
  const ProjectView& ctx = s.projects.at(ctx_name);
  const bool other = ctx_name != r.project;
  // IP whitelists of both.
  if (!p.whitelist.Allows(r.peer_ip) || !ctx.whitelist.Allows(r.peer_ip)) return no("ip-whitelist");

  auto owner_or_admin = [&](const ProjectView& q) {
    return (q.owner == user && !user.empty()) || In(q.admins, user);
  };
  auto belongs = [&](const ProjectView& q) { return owner_or_admin(q) || In(q.members, user); };
  auto grants_to_user = [&](const ProjectView& q) {
    std::vector<GrantView> mine;
    for (const GrantView& g : q.grants) {
      if ((g.grantee == user || g.grantee == kMemberRole) && (g.actions & bit)) mine.push_back(g);
    }
    return mine;
  };

  std::vector<ObjectRef> objects = r.objects;
  if (objects.empty()) objects.push_back(ObjectRef{});
  for (const ObjectRef& o : objects) {
    const bool in_p = belongs(p);
    // The labels of every package route from the context project to this object.
    std::set<int> package_labels;
    if (!in_p && other && belongs(ctx)) {
      for (const PackageView& k : p.packages) {
        const std::string as = p.name + "." + k.name;
        if (!k.allowed.count(ctx.name) || !In(ctx.installed, as)) continue;
        bool may_use = owner_or_admin(ctx);
        for (const GrantView& g : grants_to_user(ctx)) {
          may_use |= g.object == Object::kPackage && g.path == as;
        }
        if (!may_use) continue;
        for (const PackageEntryView& e : k.entries) {
          if ((e.actions & bit) && e.object != Object::kProject &&
              Reaches(e.object, e.path, o.path))
            package_labels.insert(k.allowed.at(ctx.name));
        }
      }
    }
    const bool has_route = in_p || !package_labels.empty();
    // Label: No-ReadUp, with exceptions.
    if (p.label_security && reads && has_route) {
      int clearance = 0;
      if (in_p) {
        if (p.clearances.count(user)) clearance = p.clearances.at(user);
      } else {
        clearance = *package_labels.rbegin();
      }
      // A read that names no columns reads every column.
      std::vector<std::string> cols = r.columns;
      if (cols.empty()) {
        for (const LabelView& l : p.labels) {
          if (Reaches(l.object, l.path, o.path)) cols.push_back(l.column);
        }
      }
      cols.insert(cols.begin(), "");
      for (const std::string& col : cols) {
        int level = 0;
        for (const LabelView& l : p.labels) {
          if (Reaches(l.object, l.path, o.path) && (l.column.empty() || l.column == col))
            level = std::max(level, l.level);
        }
        if (level <= clearance) continue;
        bool excepted = false;
        for (const LabelExceptionView& e : p.label_exceptions) {
          excepted |= e.user == user && Reaches(e.object, e.path, o.path) &&
                      (e.column.empty() || e.column == col) && e.level >= level &&
                      s.now_unix_ms < e.expires_unix_ms;
        }
        if (!excepted) return no("label");
      }
    }
    // Roles, ACLs, packages.
    if (other && !belongs(ctx)) return no("acl");
    if (!in_p) {
      if (package_labels.empty()) return no("acl");
      continue;  // sharing wins over protection
    }
    if (!owner_or_admin(p)) {
      bool granted = false;
      for (const GrantView& g : grants_to_user(p))
        granted |= Reaches(g.object, g.path, o.path) && g.object != Object::kPackage;
      if (!granted) return no("acl");
      if (action == Action::kAdmin && p.no_write_down) return no("no-write-down");
    }
    // Protection.
    if (p.protection && other && reads && !In(p.trusted, ctx.name)) {
      bool excepted = false;
      for (const ExceptionStatement& st : p.exceptions) {
        if (!In(st.principals, user) && !In(st.principals, "*")) continue;
        if (!(st.actions & bit)) continue;
        if (!st.task_types.empty() && !In(st.task_types, r.task_type)) continue;
        for (const auto& res : st.resources) {
          bool path_ok = res.path == "*" || res.path == o.path;
          if (!path_ok && !res.path.empty() && res.path.back() == '*' && !o.path.empty()) {
            const std::string stem = res.path.substr(0, res.path.size() - 1);
            path_ok = o.path.compare(0, stem.size(), stem) == 0;
          }
          excepted |= path_ok && (res.pinned_file_id == 0 || res.pinned_file_id == o.file_id);
        }
      }
      if (!excepted) return no("protection");
    }
  }
  return yes;
}

// ---- random states and requests ----

class Random {
 public:
  explicit Random(uint32_t seed) : gen_(seed) {}
  int Int(int n) { return std::uniform_int_distribution<int>(0, n - 1)(gen_); }
  bool Chance(int percent) { return Int(100) < percent; }
  const std::string& Pick(const std::vector<std::string>& v) { return v[Int(v.size())]; }
  std::vector<std::string> Some(const std::vector<std::string>& v, int percent) {
    std::vector<std::string> out;
    for (const std::string& x : v) {
      if (Chance(percent)) out.push_back(x);
    }
    return out;
  }
  uint32_t Actions() {
    uint32_t bits = 0;
    for (Action a : kAllActions) {
      if (Chance(35)) bits |= ActionBit(a);
    }
    return bits;
  }
  Object PathObject() { return Chance(50) ? Object::kFile : Object::kPrefix; }
  std::string PathFor(Object o) { return o == Object::kFile ? Pick(kPaths) : Pick(kPrefixes); }

 private:
  std::mt19937 gen_;
};

ProjectView RandomProject(Random& rnd, const std::string& name) {
  ProjectView p{.name = name};
  p.owner = rnd.Chance(90) ? rnd.Pick(kUsers) : "";
  p.members = rnd.Some(kUsers, 50);
  for (const std::string& m : p.members) {
    if (rnd.Chance(15)) p.admins.push_back(m);
  }
  for (int i = rnd.Int(6); i > 0; --i) {
    GrantView g{.grantee = rnd.Chance(25) ? std::string(kMemberRole) : rnd.Pick(kUsers),
                .actions = rnd.Actions()};
    const int kind = rnd.Int(4);
    g.object = static_cast<Object>(kind);
    if (g.object == Object::kPackage) {
      g.path = absl::StrCat(rnd.Pick(kProjects), ".k", rnd.Int(2));
    } else if (g.object != Object::kProject) {
      g.path = rnd.PathFor(g.object);
    }
    p.grants.push_back(g);
  }
  if (rnd.Chance(15)) {
    p.ip_whitelist = "127.0.0.0/8";
    p.whitelist = *IpWhitelist::Parse(p.ip_whitelist);
  }
  p.label_security = rnd.Chance(60);
  p.no_write_down = rnd.Chance(30);
  for (int i = rnd.Int(4); i > 0; --i) {
    LabelView l{.object = rnd.PathObject(), .level = rnd.Int(kMaxLevel + 1)};
    l.path = rnd.PathFor(l.object);
    if (rnd.Chance(30)) l.column = rnd.Pick(kColumns);
    p.labels.push_back(l);
  }
  for (const std::string& u : rnd.Some(kUsers, 50)) p.clearances[u] = rnd.Int(kMaxLevel + 1);
  for (int i = rnd.Int(3); i > 0; --i) {
    LabelExceptionView e{.user = rnd.Pick(kUsers), .object = rnd.PathObject()};
    e.path = rnd.PathFor(e.object);
    if (rnd.Chance(30)) e.column = rnd.Pick(kColumns);
    e.level = rnd.Int(kMaxLevel + 1);
    e.expires_unix_ms = kNow + (rnd.Chance(30) ? -1 : 1) * rnd.Int(3);  // expired, now, later
    p.label_exceptions.push_back(e);
  }
  for (int k = rnd.Int(3); k > 0; --k) {
    PackageView pkg{.name = absl::StrCat("k", k - 1)};
    for (int i = 1 + rnd.Int(2); i > 0; --i) {
      PackageEntryView e{.object = rnd.PathObject()};
      e.path = rnd.PathFor(e.object);
      if (rnd.Chance(30)) e.actions = rnd.Actions();
      pkg.entries.push_back(e);
    }
    for (const std::string& q : rnd.Some(kProjects, 70)) pkg.allowed[q] = rnd.Int(kMaxLevel + 1);
    p.packages.push_back(pkg);
  }
  for (const std::string& q : kProjects) {
    for (const char* k : {".k0", ".k1"}) {
      if (rnd.Chance(50)) p.installed.push_back(q + k);
    }
  }
  p.protection = rnd.Chance(60);
  p.trusted = rnd.Some(kProjects, 25);
  for (int i = rnd.Int(3); i > 0; --i) {
    ExceptionStatement st{
        .principals = rnd.Some(kUsers, 50),
        .actions = rnd.Actions() | (rnd.Chance(50) ? ActionBit(Action::kRead) : 0)};
    if (rnd.Chance(10)) st.principals.push_back("*");
    for (int j = 1 + rnd.Int(2); j > 0; --j) {
      ExceptionStatement::Resource res;
      const int form = rnd.Int(4);
      res.path = form == 0 ? "*" : form == 1 ? "a*" : rnd.Pick(kPaths);
      if (rnd.Chance(30)) res.pinned_file_id = 1 + rnd.Int(2);
      st.resources.push_back(res);
    }
    if (rnd.Chance(50)) st.task_types = rnd.Some(kTaskTypes, 50);
    p.exceptions.push_back(st);
  }
  return p;
}

TEST(AccessPolicyModelTest, DecisionsAgreeWithTheReferenceModel) {
  constexpr int kStates = 2000;
  constexpr int kRequestsPerState = 100;
  Random rnd(20261130);
  std::map<std::string, int> allowed_by_rule, refused_by_rule;
  for (int s = 0; s < kStates; ++s) {
    PolicySnapshot state{.now_unix_ms = kNow};
    for (const std::string& name : kProjects) {
      if (rnd.Chance(90)) state.projects.emplace(name, RandomProject(rnd, name));
    }
    for (int i = 0; i < kRequestsPerState; ++i) {
      const PrincipalView who{.user = rnd.Pick(kUsers), .cluster_admin = rnd.Chance(3)};
      AccessRequest r;
      const int scope = rnd.Int(20);
      r.need.scope = scope == 0   ? Requirement::Scope::kAuthenticated
                     : scope == 1 ? Requirement::Scope::kCluster
                                  : Requirement::Scope::kProject;
      r.need.action = kAllActions[rnd.Int(std::size(kAllActions))];
      r.project = rnd.Chance(95) ? rnd.Pick(kProjects) : "gone";
      for (int j = rnd.Int(3); j > 0; --j) {
        r.objects.push_back(
            {.path = rnd.Pick(kPaths), .file_id = static_cast<uint64_t>(rnd.Int(3))});
      }
      if (rnd.Chance(30)) r.columns = rnd.Some(kColumns, 50);
      r.peer_ip = rnd.Chance(85) ? kIps[0] : kIps[1];
      const int ctx = rnd.Int(10);
      r.context_project = ctx < 3   ? ""
                          : ctx < 4 ? r.project
                          : ctx < 9 ? rnd.Pick(kProjects)
                                    : "gone";
      r.task_type = rnd.Pick(kTaskTypes);

      const Decision d = Decide(who, r, state);
      const ModelVerdict m = ModelDecide(who, r, state);
      ASSERT_EQ(d.allowed, m.allowed)
          << "state " << s << " request " << i << ": " << d.rule << " " << d.reason;
      if (!d.allowed) {
        ASSERT_EQ(d.rule, m.rule) << d.reason;
        ++refused_by_rule[d.rule];
      } else {
        ++allowed_by_rule[d.rule];
      }
    }
  }
  // The random states reach every rule, both ways, often enough to mean something.
  for (const char* rule : {"cluster-role", "project-state", "ip-whitelist", "label", "acl",
                           "no-write-down", "protection"}) {
    EXPECT_GE(refused_by_rule[rule], 50) << rule;
  }
  for (const char* rule : {"cluster-admin", "authenticated", "owner", "project-admin", "grant",
                           "package", "trusted", "exception"}) {
    EXPECT_GE(allowed_by_rule[rule], 50) << rule;
  }
  for (const auto& [rule, n] : refused_by_rule)
    std::cout << "refused by " << rule << ": " << n << "\n";
  for (const auto& [rule, n] : allowed_by_rule)
    std::cout << "allowed by " << rule << ": " << n << "\n";
}

}  // namespace
}  // namespace ternion::master
