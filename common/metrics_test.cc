#include "common/metrics.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace onceonly {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsRegistryTest, CollectorsRunAtEveryRenderUntilTheirRegistrationEnds) {
  MetricsRegistry registry;
  Gauge& age = registry.gauge("test_age_seconds", "an age", {});
  double now = 10;
  int runs = 0;
  std::unique_ptr<MetricsRegistry::Collection> collection = registry.AddCollector([&] {
    ++runs;
    age.Set({}, now - 4);
  });
  EXPECT_EQ(runs, 0);  // nothing runs until a scrape
  EXPECT_THAT(registry.Render(), HasSubstr("\ntest_age_seconds 6\n"));
  now = 25;
  EXPECT_THAT(registry.Render(), HasSubstr("\ntest_age_seconds 21\n"));
  EXPECT_EQ(runs, 2);

  collection.reset();
  now = 100;
  const std::string after = registry.Render();
  EXPECT_EQ(runs, 2);
  EXPECT_THAT(after, HasSubstr("\ntest_age_seconds 21\n"));
  EXPECT_THAT(after, Not(HasSubstr("test_age_seconds 96")));
}

TEST(MetricsRegistryTest, CollectorsRunInTheOrderTheyWereAdded) {
  MetricsRegistry registry;
  Gauge& value = registry.gauge("test_value", "set by two collectors", {});
  auto first = registry.AddCollector([&] { value.Set({}, 1); });
  auto second = registry.AddCollector([&] { value.Set({}, 2); });
  EXPECT_THAT(registry.Render(), HasSubstr("\ntest_value 2\n"));
  second.reset();
  EXPECT_THAT(registry.Render(), HasSubstr("\ntest_value 1\n"));
}

}  // namespace
}  // namespace onceonly
