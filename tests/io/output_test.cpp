#include "leaves/io/output.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "testing.h"

namespace fs = std::filesystem;
using namespace leaves::io;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

size_t entries(const fs::path& d) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(d), fs::directory_iterator()));
}

// Injected full disk for the scope of one test.
struct FullDiskAfter {
  explicit FullDiskAfter(int64_t bytes) { leaves::io::testing::fail_writes_after(bytes); }
  ~FullDiskAfter() { leaves::io::testing::fail_writes_after(-1); }
};

}  // namespace

TEST(Output, AtomicWriteReplacesWholeFilesAndLeavesNoTemporaries) {
  auto d = leaves::testing::temp_dir("atomic");
  fs::create_directories(d);
  write_file(d / "a.txt", "first");
  write_file(d / "a.txt", "second");
  EXPECT_EQ(slurp(d / "a.txt"), "second");
  EXPECT_EQ(entries(d), 1u);
  EXPECT_THROW(write_file(d / "b.txt", [](AtomicFile&) { throw std::runtime_error("boom"); }), std::runtime_error);
  EXPECT_FALSE(fs::exists(d / "b.txt"));
  EXPECT_EQ(entries(d), 1u);
  fs::remove_all(d);
}

TEST(Output, AFullDiskIsOneErrorNamingTheFileAndTheEarlierFileStays) {
  auto d = leaves::testing::temp_dir("enospc");
  fs::create_directories(d);
  write_file(d / "a.json", "{\"good\": true}\n");
  {
    FullDiskAfter full(4);
    try {
      write_file(d / "a.json", std::string(100, 'x'));
      FAIL() << "no error";
    } catch (const WriteError& e) {
      EXPECT_NE(std::string(e.what()).find((d / "a.json").string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos) << e.what();
      EXPECT_EQ(e.reason(), "No space left on device");
    }
  }
  EXPECT_EQ(slurp(d / "a.json"), "{\"good\": true}\n");
  EXPECT_EQ(entries(d), 1u);  // no temporary left
  fs::remove_all(d);
}

TEST(Output, ATorchArchiveOnAFullDiskThrowsOnceAndNeverAborts) {
  // LibTorch's own file writer throws from its destructor on a full disk
  // (std::terminate); the sink never fails towards LibTorch, commit() reports.
  auto d = leaves::testing::temp_dir("archive");
  fs::create_directories(d);
  torch::serialize::OutputArchive good;
  good.write("w", torch::arange(10));
  save_archive(d / "m.pt", good);
  const auto before = slurp(d / "m.pt");
  for (int64_t budget : {0, 10, 100, 1000}) {
    FullDiskAfter full(budget);
    torch::serialize::OutputArchive a;
    a.write("w", torch::randn({1000}));
    EXPECT_THROW(save_archive(d / "m.pt", a), WriteError) << budget;
  }
  EXPECT_EQ(slurp(d / "m.pt"), before);
  EXPECT_EQ(entries(d), 1u);
  torch::serialize::InputArchive in;
  in.load_from((d / "m.pt").string());
  torch::Tensor w;
  in.read("w", w);
  EXPECT_TRUE(torch::equal(w, torch::arange(10)));
  fs::remove_all(d);
}

TEST(Output, JsonLinesLogIgnoresATornLastLineAndFilters) {
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
  log.append({{"epoch", 4}});  // the torn line does not swallow the next one
  EXPECT_EQ(log.read().size(), 3u);
  log.filter([](const nlohmann::json& r) { return r["epoch"] <= 1; });
  auto rows = log.read();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["epoch"], 1);
  {
    FullDiskAfter full(3);  // a failed append leaves no half line
    EXPECT_THROW(log.append({{"epoch", 2}, {"long", std::string(50, 'y')}}), WriteError);
  }
  EXPECT_EQ(slurp(d / "log.jsonl"), "{\"epoch\":1}\n");
  fs::remove_all(d);
}

TEST(Output, StagedDirReplacesWholeOrNotAtAll) {
  auto d = leaves::testing::temp_dir("staged");
  const fs::path target = d / "set";
  {
    StagedDir s(target);
    write_file(s.path() / "a", "1");
    s.commit();
  }
  EXPECT_EQ(slurp(target / "a"), "1");
  {
    StagedDir s(target);
    write_file(s.path() / "b", "2");
    // destroyed without commit: the old set stays, the temporary goes
  }
  EXPECT_EQ(slurp(target / "a"), "1");
  EXPECT_FALSE(fs::exists(target / "b"));
  EXPECT_EQ(entries(d), 1u);
  {
    StagedDir s(target);
    write_file(s.path() / "b", "2");
    s.commit();
  }
  EXPECT_FALSE(fs::exists(target / "a"));
  EXPECT_EQ(slurp(target / "b"), "2");
  EXPECT_EQ(entries(d), 1u);
  fs::remove_all(d);
}

TEST(Output, DirLockRefusesASecondProcessAndIsReleasedWhenTheHolderDies) {
  auto d = leaves::testing::temp_dir("lock");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    DirLock held(d, "run directory");
    char c = 'x';
    (void)!::write(ready[1], &c, 1);
    ::pause();  // killed by the parent
    _exit(0);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  try {
    DirLock second(d, "run directory");
    FAIL() << "a second writer was let in";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("in use by another leaves process (pid " + std::to_string(child) + ")"), std::string::npos) << m;
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_NO_THROW(DirLock again(d, "run directory"));  // no stale lock after a kill
  EXPECT_TRUE(absent_or_empty(d));                      // the lock file does not count
  ::close(ready[0]);
  ::close(ready[1]);
  fs::remove_all(d);
}

TEST(Output, PathsNameTheDirectoryItself) {
  const fs::path cwd = fs::current_path();
  EXPECT_EQ(normalize_dir("."), cwd);
  EXPECT_EQ(normalize_dir("d/"), cwd / "d");
  EXPECT_EQ(normalize_dir("d/e/../"), cwd / "d");
  EXPECT_TRUE(is_within(cwd / "a" / "b", cwd / "a"));
  EXPECT_TRUE(is_within(cwd / "a", cwd / "a/"));
  EXPECT_FALSE(is_within(cwd / "ab", cwd / "a"));
  EXPECT_FALSE(is_within(cwd / "a", cwd / "a" / "b"));
  EXPECT_THROW(normalize_dir(""), std::invalid_argument);
}

TEST(Output, StaleTemporariesOfDeadWritersAreRemovedOthersKept) {
  auto d = leaves::testing::temp_dir("stale");
  fs::create_directories(d);
  write_file(d / "keep.json", "{}");
  write_file(d / "x.pt.tmp.999999999", "dead");  // no such process
  const std::string live = "y.pt.tmp." + std::to_string(::getppid());
  write_file(d / live, "alive");
  remove_stale_temporaries(d);
  EXPECT_TRUE(fs::exists(d / "keep.json"));
  EXPECT_FALSE(fs::exists(d / "x.pt.tmp.999999999"));
  EXPECT_TRUE(fs::exists(d / live));
  fs::remove_all(d);
}

TEST(Output, AFolderHoldingOnlyADeadWritersTemporaryCountsAsEmpty) {
  // A run killed while writing its first file leaves NAME.tmp.PID: the folder
  // must still take a new run, not be refused as "not empty" forever.
  auto d = leaves::testing::temp_dir("dead-temp");
  fs::create_directories(d);
  write_file(d / "config.json.tmp.999999999", "{");
  EXPECT_TRUE(absent_or_empty(d));
  EXPECT_NO_THROW(require_new_or_own(d, "--out", "", "a leaves run"));
  const std::string live = "config.json.tmp." + std::to_string(::getppid());  // a writer still at work
  write_file(d / live, "{");
  EXPECT_FALSE(absent_or_empty(d));
  fs::remove_all(d);
}
