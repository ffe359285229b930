#include "leaves/data/cache.h"

#include <fstream>
#include <thread>

#include "testing.h"

namespace fs = std::filesystem;
using namespace leaves::data;

TEST(Cache, Sha256OfAKnownText) {
  auto d = leaves::testing::temp_dir("sha");
  fs::create_directories(d);
  std::ofstream(d / "abc") << "abc";
  EXPECT_EQ(sha256_file(d / "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  fs::remove_all(d);
}

TEST(Cache, PreparedSplitsEqualParsedOnesAndChangedSourcesInvalidateThem) {
  LEAVES_SHARED_DATA_OR_SKIP(shared);
  auto work = leaves::testing::temp_dir("cache");
  fs::create_directories(work / "ECG200");
  for (auto f : {"ECG200_TRAIN.tsv", "ECG200_TEST.tsv"}) fs::copy_file(shared / "ucr" / "ECG200" / f, work / "ECG200" / f);
  const auto spec = parse_data_spec("ucr:" + (work / "ECG200").string());
  const auto out = work / "prepared";
  auto info = prepare_dataset(spec, out);
  EXPECT_EQ(info["splits"]["test"]["size"], 100);
  EXPECT_EQ(info["sources"].size(), 2u);
  EXPECT_EQ(info["length"], 96);
  EXPECT_EQ(prepared_staleness(out), "");
  auto parsed = load_splits(spec), cached = load_prepared(out);
  EXPECT_TRUE(torch::equal(parsed.train.x, cached.train.x));
  EXPECT_TRUE(torch::equal(parsed.test.y, cached.test.y));
  EXPECT_EQ(cached.test.class_names, parsed.test.class_names);
  // A second request for the same spec reads the cache (the directory is not rewritten).
  const auto stamp = fs::last_write_time(out / "prepared.json");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  load_cached(spec, out);
  EXPECT_EQ(fs::last_write_time(out / "prepared.json"), stamp);
  // Through --data, by kind or by bare directory.
  EXPECT_EQ(load_splits(parse_data_spec(out.string())).test.size(), 100);
  EXPECT_EQ(load_splits(parse_data_spec("prepared:" + out.string())).train.size(), parsed.train.size());
  // Changing one value of a source (same size) makes it stale; load_cached rebuilds.
  {
    std::fstream f(work / "ECG200" / "ECG200_TEST.tsv", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);
    f.put('7');
  }
  EXPECT_NE(prepared_staleness(out).find("ECG200_TEST.tsv changed"), std::string::npos);
  leaves::testing::expect_invalid_argument([&] { load_splits(parse_data_spec(out.string())); }, "stale");
  load_cached(spec, out);
  EXPECT_EQ(prepared_staleness(out), "");
  leaves::testing::expect_invalid_argument([&] { read_prepared_info(work); }, "no prepared.json");
  fs::remove_all(work);
}

TEST(Cache, SourcesAreTheDataFilesOnlyWithReadableTimes) {
  namespace fs = std::filesystem;
  auto d = leaves::testing::temp_dir("sources");
  fs::create_directories(d / "Toy");
  for (const char* split : {"TRAIN", "TEST"}) {
    std::ofstream f(d / "Toy" / (std::string("Toy_") + split + ".tsv"));
    for (int i = 0; i < 12; ++i) f << (i % 2 + 1) << "\t" << i * 0.1 << "\t0.5\t" << i * 0.2 << "\t0.1\n";
  }
  std::ofstream(d / "Toy" / "README.md") << "notes\n";
  const auto spec = leaves::data::parse_data_spec("ucr:" + (d / "Toy").string());
  const auto info = leaves::data::prepare_dataset(spec, d / "prepared");
  ASSERT_EQ(info["sources"].size(), 2u);  // the two data files, not the README
  const std::string modified = info["sources"][0]["modified"];
  EXPECT_EQ(modified.size(), 30u) << modified;  // 2026-12-04T21:03:07.123456789Z
  EXPECT_EQ(modified.back(), 'Z');
  EXPECT_EQ(modified[10], 'T');
  std::ofstream(d / "Toy" / "README.md", std::ios::app) << "edited\n";
  EXPECT_EQ(leaves::data::prepared_staleness(d / "prepared"), "");
  fs::remove_all(d);
}
