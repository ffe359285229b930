#include "leaves/train/run_dir.h"

#include <fstream>

#include "testing.h"

namespace fs = std::filesystem;
using namespace leaves::train;

TEST(RunDir, AtomicWriteReplacesWholeFilesAndLeavesNoTemporaries) {
  auto d = leaves::testing::temp_dir("atomic");
  fs::create_directories(d);
  write_file_atomically(d / "a.txt", "first");
  write_file_atomically(d / "a.txt", "second");
  std::ifstream f(d / "a.txt");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "second");
  EXPECT_EQ(std::distance(fs::directory_iterator(d), fs::directory_iterator()), 1);
  EXPECT_THROW(commit_file(d / "b.txt", [](const std::string&) { throw std::runtime_error("boom"); }),
               std::runtime_error);
  EXPECT_FALSE(fs::exists(d / "b.txt"));
  EXPECT_EQ(std::distance(fs::directory_iterator(d), fs::directory_iterator()), 1);
  fs::remove_all(d);
}

TEST(RunDir, JsonLinesLogIgnoresATornLastLineAndFilters) {
  auto d = leaves::testing::temp_dir("log");
  fs::create_directories(d);
  JsonLinesLog log(d / "log.jsonl");
  log.append({{"epoch", 1}});
  log.append({{"epoch", 2}});
  {
    std::ofstream f(d / "log.jsonl", std::ios::app);
    f << "{\"epoch\": 3, \"enc";  // killed mid-write
  }
  EXPECT_EQ(log.read().size(), 2u);
  log.filter([](const nlohmann::json& r) { return r["epoch"] <= 1; });
  auto rows = log.read();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["epoch"], 1);
  fs::remove_all(d);
}
