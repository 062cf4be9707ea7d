#include "gateway/dossier_wire.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace onceonly {
namespace {

using google::protobuf::io::CodedOutputStream;

// The splice below relies on the dossier's field numbers: only enterprise_number comes
// before company in the deterministic order.
static_assert(v1::Dossier::kEnterpriseNumberFieldNumber == 1);
static_assert(v1::Dossier::kCompanyFieldNumber == 2);

std::string Deterministic(const google::protobuf::Message& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializePartialToCodedStream(&coded);
  }
  return out;
}

int CompanyFieldIndex() {
  static const int index =
      v1::Dossier::descriptor()->FindFieldByNumber(v1::Dossier::kCompanyFieldNumber)->index();
  return index;
}

}  // namespace

FieldWire FieldWire::Of(const registry::v1::Enterprise& enterprise) {
  const google::protobuf::Descriptor* descriptor = enterprise.GetDescriptor();
  const google::protobuf::Reflection* reflection = enterprise.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> by_number;
  for (int i = 0; i < descriptor->field_count(); ++i) by_number.push_back(descriptor->field(i));
  std::sort(by_number.begin(), by_number.end(), [](const auto* a, const auto* b) {
    return a->number() < b->number();
  });
  // One copy of the Enterprise, whose fields move one at a time into a message of their own.
  std::unique_ptr<google::protobuf::Message> rest(enterprise.New());
  rest->CopyFrom(enterprise);
  FieldWire wire;
  for (const google::protobuf::FieldDescriptor* field : by_number) {
    std::unique_ptr<google::protobuf::Message> one(enterprise.New());
    reflection->SwapFields(rest.get(), one.get(), {field});
    std::string bytes = Deterministic(*one);
    if (bytes.empty()) continue;  // unset: encodes as nothing
    wire.bytes_ += static_cast<int64_t>(bytes.size());
    wire.fields_.emplace_back(field->index(), std::move(bytes));
  }
  return wire;
}

std::string SerializeDossier(const v1::Dossier& dossier, const FieldWire* company,
                             const KeptDossierFields& kept) {
  const int company_index = CompanyFieldIndex();
  const bool with_company = company != nullptr && !dossier.has_company() &&
                            (kept.whole[company_index] || kept.partial[company_index]);
  size_t body = 0;  // the company's kept fields
  auto is_kept = [&](int field) {
    return kept.whole[company_index] || kept.subfields[company_index][field];
  };
  if (with_company) {
    for (const auto& [field, bytes] : company->fields()) {
      if (is_kept(field)) body += bytes.size();
    }
  }
  const size_t company_size =
      with_company ? 1 + CodedOutputStream::VarintSize64(body) + body : 0;
  const size_t rest_size = dossier.ByteSizeLong();
  std::string out(company_size + rest_size, '\0');
  {
    // The dossier goes after room for the company, with the sizes just computed.
    google::protobuf::io::ArrayOutputStream stream(out.data() + company_size,
                                                   static_cast<int>(rest_size));
    CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    dossier.SerializeWithCachedSizes(&coded);
  }
  if (!with_company) return out;
  // Field 1, if written, moves to the front and the company fills the room after it: field
  // order. Its size is read off the bytes, as written.
  size_t number_size = 0;
  {
    google::protobuf::io::CodedInputStream written(
        reinterpret_cast<const uint8_t*>(out.data() + company_size), static_cast<int>(rest_size));
    uint32_t length = 0;
    if (written.ReadTag() == ((v1::Dossier::kEnterpriseNumberFieldNumber << 3) | 2) &&
        written.ReadVarint32(&length)) {
      number_size = static_cast<size_t>(written.CurrentPosition()) + length;
    }
  }
  std::memmove(out.data(), out.data() + company_size, number_size);
  char* at = out.data() + number_size;
  *at++ = static_cast<char>((v1::Dossier::kCompanyFieldNumber << 3) | 2);  // length-delimited
  at = reinterpret_cast<char*>(CodedOutputStream::WriteVarint64ToArray(
      body, reinterpret_cast<uint8_t*>(at)));
  for (const auto& [field, bytes] : company->fields()) {
    if (!is_kept(field)) continue;
    std::memcpy(at, bytes.data(), bytes.size());
    at += bytes.size();
  }
  return out;
}

void AppendAccessId(uint64_t access_id, std::string* wire) {
  uint8_t field[1 + 10];
  field[0] = (v1::Dossier::kAccessIdFieldNumber << 3) | 0;  // varint
  uint8_t* end = CodedOutputStream::WriteVarint64ToArray(access_id, field + 1);
  wire->append(reinterpret_cast<const char*>(field), static_cast<size_t>(end - field));
}

}  // namespace onceonly
