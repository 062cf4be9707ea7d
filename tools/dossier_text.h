// Renders a dossier and an access record for people (the operator CLI and the demo).
#ifndef ONCEONLY_TOOLS_DOSSIER_TEXT_H_
#define ONCEONLY_TOOLS_DOSSIER_TEXT_H_

#include <string>

#include "onceonly/v1/audit.pb.h"
#include "onceonly/v1/dossier.pb.h"

namespace onceonly {

std::string DossierToText(const v1::Dossier& dossier);
std::string AccessRecordToText(const v1::AccessRecord& record);

}  // namespace onceonly

#endif  // ONCEONLY_TOOLS_DOSSIER_TEXT_H_
