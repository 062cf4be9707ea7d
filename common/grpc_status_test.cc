#include "common/grpc_status.h"

#include "common/rich_status.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

TEST(GrpcStatusTest, RichDetailsSurviveTheWireBothWays) {
  absl::Status original = InvalidField("enterprise_number", "INVALID_ENTERPRISE_NUMBER",
                                       "check digits are 02, expected 01");
  original = AddErrorMetadata(original, "access_id", "7");
  grpc::Status wire = ToGrpcStatus(original);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(wire.error_message(), "check digits are 02, expected 01");

  // What a standard client decodes from grpc-status-details-bin.
  google::rpc::Status rich;
  ASSERT_TRUE(rich.ParseFromString(wire.error_details()));
  EXPECT_EQ(rich.code(), 3);
  bool saw_info = false, saw_bad_request = false;
  for (const auto& any : rich.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&info)) {
      saw_info = true;
      EXPECT_EQ(info.reason(), "INVALID_ENTERPRISE_NUMBER");
      EXPECT_EQ(info.domain(), "onceonly.brussels");
      EXPECT_EQ(info.metadata().at("access_id"), "7");
    } else if (any.UnpackTo(&bad)) {
      saw_bad_request = true;
      ASSERT_EQ(bad.field_violations_size(), 1);
      EXPECT_EQ(bad.field_violations(0).field(), "enterprise_number");
    }
  }
  EXPECT_TRUE(saw_info);
  EXPECT_TRUE(saw_bad_request);

  absl::Status back = FromGrpcStatus(wire);
  EXPECT_EQ(back.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorReason(back), "INVALID_ENTERPRISE_NUMBER");
  EXPECT_EQ(ErrorMetadata(back, "access_id"), "7");
}

TEST(GrpcStatusTest, OkAndPlainErrors) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  grpc::Status plain = ToGrpcStatus(absl::UnavailableError("down"));
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(plain.error_details().empty());
  EXPECT_EQ(ErrorReason(FromGrpcStatus(plain)), "");
}

}  // namespace
}  // namespace onceonly
