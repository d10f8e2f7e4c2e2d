#include "security/request_fields.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/reflection.h>

#include <vector>

#include "absl/strings/str_cat.h"

namespace ternion::security {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

std::string RequestPayload(const Message& request) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  return out;
}

std::string RequestProject(const Message& request) {
  const google::protobuf::Descriptor* d = request.GetDescriptor();
  const google::protobuf::Reflection* r = request.GetReflection();
  if (const FieldDescriptor* f = d->FindFieldByName("project");
      f != nullptr && f->type() == FieldDescriptor::TYPE_STRING && !f->is_repeated()) {
    return r->GetString(request, f);
  }
  if (const FieldDescriptor* f = d->FindFieldByName("lease");
      f != nullptr && f->type() == FieldDescriptor::TYPE_MESSAGE && !f->is_repeated()) {
    return RequestProject(r->GetMessage(request, f));
  }
  return "";
}

DataContext RequestContext(const Message& request) {
  DataContext out;
  const FieldDescriptor* columns = request.GetDescriptor()->FindFieldByName("columns");
  if (columns != nullptr && columns->type() == FieldDescriptor::TYPE_STRING &&
      columns->is_repeated()) {
    for (const std::string& c :
         request.GetReflection()->GetRepeatedFieldRef<std::string>(request, columns)) {
      out.columns.push_back(c);
    }
  }
  const FieldDescriptor* f = request.GetDescriptor()->FindFieldByName("context");
  if (f == nullptr || f->type() != FieldDescriptor::TYPE_MESSAGE || f->is_repeated()) return out;
  const Message& context = request.GetReflection()->GetMessage(request, f);
  const google::protobuf::Descriptor* d = context.GetDescriptor();
  const google::protobuf::Reflection* r = context.GetReflection();
  auto text = [&](const char* name) {
    const FieldDescriptor* field = d->FindFieldByName(name);
    return field != nullptr && field->type() == FieldDescriptor::TYPE_STRING
               ? r->GetString(context, field)
               : std::string();
  };
  out.project = text("project");
  out.task_type = text("task_type");
  return out;
}

std::vector<std::string> RequestPaths(const Message& request) {
  const google::protobuf::Descriptor* d = request.GetDescriptor();
  const google::protobuf::Reflection* r = request.GetReflection();
  std::vector<std::string> out;
  for (const char* name : {"path", "new_path", "snapshot_path", "prefix"}) {
    const FieldDescriptor* f = d->FindFieldByName(name);
    if (f != nullptr && f->type() == FieldDescriptor::TYPE_STRING && !f->is_repeated()) {
      std::string value = r->GetString(request, f);
      if (!value.empty()) out.push_back(std::move(value));
    }
  }
  if (const FieldDescriptor* f = d->FindFieldByName("lease");
      f != nullptr && f->type() == FieldDescriptor::TYPE_MESSAGE && !f->is_repeated()) {
    for (std::string& p : RequestPaths(r->GetMessage(request, f))) out.push_back(std::move(p));
  }
  return out;
}

absl::Status CheckRequestBounds(const Message& request, size_t max_bytes, size_t max_items) {
  const google::protobuf::Reflection* r = request.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(request, &fields);  // the fields that are set
  for (const FieldDescriptor* f : fields) {
    const bool text = f->type() == FieldDescriptor::TYPE_STRING ||
                      f->type() == FieldDescriptor::TYPE_BYTES;
    const bool message = f->type() == FieldDescriptor::TYPE_MESSAGE;
    if (f->is_repeated()) {
      const int n = r->FieldSize(request, f);
      if (static_cast<size_t>(n) > max_items) {
        return absl::InvalidArgumentError(absl::StrCat(
            "field ", f->name(), " has ", n, " entries; at most ", max_items, " are accepted"));
      }
      for (int i = 0; i < n; ++i) {
        if (text && r->GetRepeatedStringReference(request, f, i, nullptr).size() > max_bytes) {
          return absl::InvalidArgumentError(
              absl::StrCat("an entry of field ", f->name(), " exceeds ", max_bytes, " bytes"));
        }
        if (message) {
          if (absl::Status s =
                  CheckRequestBounds(r->GetRepeatedMessage(request, f, i), max_bytes, max_items);
              !s.ok()) {
            return s;
          }
        }
      }
    } else if (text) {
      std::string scratch;
      if (r->GetStringReference(request, f, &scratch).size() > max_bytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("field ", f->name(), " exceeds ", max_bytes, " bytes"));
      }
    } else if (message) {
      if (absl::Status s = CheckRequestBounds(r->GetMessage(request, f), max_bytes, max_items);
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace ternion::security
