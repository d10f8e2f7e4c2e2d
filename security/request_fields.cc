#include "security/request_fields.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

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

}  // namespace ternion::security
