#include "leaves/data/tables.h"

#include <fstream>

#include "leaves/data/spec.h"
#include "testing.h"

namespace fs = std::filesystem;
using namespace leaves::data;
using leaves::testing::expect_invalid_argument;

namespace {
fs::path put(const std::string& dir, const std::string& name, const std::string& bytes) {
  auto d = fs::temp_directory_path() / ("leaves-test-tables-" + dir + "-" + std::to_string(::getpid()));
  fs::create_directories(d);
  std::ofstream(d / name, std::ios::binary) << bytes;
  return d / name;
}

std::string pamap2_row(double t, int activity, const std::string& hr) {
  std::string row = std::to_string(t) + " " + std::to_string(activity) + " " + hr;
  for (int c = 3; c < 54; ++c) row += " " + std::to_string(c * 0.5);
  return row + "\n";
}

// A .npy file (version 1.0) with the given descr, shape and raw data.
std::string npy(const std::string& descr, const std::string& shape, const std::string& data) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

template <class T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}
}  // namespace

TEST(Pamap2, ReadsTheFiftyFourColumnsAndKeepsMissingValues) {
  auto f = put("pamap", "subject101.dat",
               pamap2_row(8.38, 0, "104") + pamap2_row(8.39, 1, "NaN") + pamap2_row(8.40, 1, "NaN"));
  auto r = read_pamap2(f);
  EXPECT_EQ(r.values.sizes(), (std::vector<int64_t>{52, 3}));
  EXPECT_EQ(Pamap2Recording::channel_names().size(), 52u);
  EXPECT_EQ(Pamap2Recording::channel_names()[2], "hand_acc16_x");
  EXPECT_EQ(r.activity[1].item<int64_t>(), 1);
  EXPECT_EQ(r.values[0][0].item<float>(), 104.0f);
  EXPECT_TRUE(std::isnan(r.values[0][1].item<float>()));
  EXPECT_FLOAT_EQ(r.values[51][2].item<float>(), 26.5f);  // column 54
  EXPECT_EQ(pamap2_activity_name(24), "rope jumping");
  expect_invalid_argument([] { read_pamap2(put("pamap", "cols.dat", "1 1 80 2 3\n")); }, "cols.dat:1: expected 54 columns");
  expect_invalid_argument([] { read_pamap2(put("pamap", "act.dat", pamap2_row(1, 8, "80"))); }, "activity id 8");
  expect_invalid_argument([] { read_pamap2(put("pamap", "time.dat", pamap2_row(2, 1, "80") + pamap2_row(1, 1, "80"))); },
                          "time.dat:2: timestamps must increase");
}

TEST(Csv, HeaderRowSeparatorsAndErrors) {
  auto t = read_csv(put("csv", "a.csv", "t0,t1,t2\n1,2,3\n4,5,6\n"));
  EXPECT_TRUE(torch::equal(t, torch::tensor({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}).view({2, 3})));
  EXPECT_EQ(read_csv(put("csv", "b.csv", "1;2\n3;4\n")).sizes(), (std::vector<int64_t>{2, 2}));
  expect_invalid_argument([] { read_csv(put("csv", "c.csv", "1,2\n3\n")); }, "c.csv:2: has 1 columns, expected 2");
  expect_invalid_argument([] { read_csv(put("csv", "d.csv", "1,2\n3,x\n")); }, "d.csv:2");
  expect_invalid_argument([] { read_csv(put("csv", "e.csv", "")); }, "no numeric rows");
}

TEST(Npy, ReadsShapesAndDtypesAndRejectsBadFiles) {
  auto a = read_npy(put("npy", "f4.npy", npy("<f4", "(2, 3)", raw<float>({1, 2, 3, 4, 5, 6}))));
  EXPECT_TRUE(torch::equal(a, torch::tensor({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}).view({2, 3})));
  auto b = read_npy(put("npy", "i8.npy", npy("<i8", "(3,)", raw<int64_t>({0, 1, 1}))));
  EXPECT_EQ(b.scalar_type(), torch::kLong);
  EXPECT_EQ(b.sizes(), (std::vector<int64_t>{3}));
  expect_invalid_argument([] { read_npy(put("npy", "cut.npy", npy("<f8", "(4,)", raw<double>({1, 2})))); }, "truncated");
  expect_invalid_argument([] { read_npy(put("npy", "be.npy", npy(">f4", "(1,)", raw<float>({1})))); }, "'>f4'");
  expect_invalid_argument([] { read_npy(put("npy", "no.npy", "hello")); }, "not a NumPy");
  // Fuzzing found these: a shape far beyond the file (was an attempt to allocate
  // it), a negative or non-numeric dimension, and bytes after the data.
  expect_invalid_argument([] { read_npy(put("npy", "huge.npy", npy("<f8", "(4000000000, 4000000000)", raw<double>({1})))); },
                          "promises more data than the file holds");
  expect_invalid_argument([] { read_npy(put("npy", "neg.npy", npy("<f4", "(-2,)", raw<float>({1})))); },
                          "shape entry '-2'");
  expect_invalid_argument([] { read_npy(put("npy", "nan.npy", npy("<f4", "(x,)", raw<float>({1})))); }, "shape entry 'x'");
  expect_invalid_argument([] { read_npy(put("npy", "long.npy", npy("<f4", "(1,)", raw<float>({1, 2})))); },
                          "trailing bytes");
  // Version 2 with a header length of ~4 GB in a 14-byte file (fuzzing found it allocating the header).
  expect_invalid_argument([] { read_npy(put("npy", "v2.npy", std::string("\x93NUMPY\x02NUM\x00\xf6\x00\xfd", 14))); },
                          "runs past the end of the file");
  // write_npy round trip.
  const auto w = leaves::testing::temp_dir("npy-write");
  std::filesystem::create_directories(w);
  auto x = torch::randn({3, 2, 5});
  write_npy(w / "x.npy", x);
  EXPECT_TRUE(torch::equal(read_npy(w / "x.npy"), x));
  write_npy(w / "y.npy", torch::tensor({4, 5, 6}, torch::kLong));
  EXPECT_TRUE(torch::equal(read_npy(w / "y.npy"), torch::tensor({4, 5, 6}, torch::kLong)));
  std::filesystem::remove_all(w);
}

TEST(DataSpec, ArraysOfYourOwnBecomeStratifiedSplits) {
  std::vector<float> x(40 * 2 * 16);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7);
  std::vector<int64_t> y(40);
  for (int i = 0; i < 40; ++i) y[i] = i % 2;
  auto xs = put("arrays", "x.npy", npy("<f4", "(40, 2, 16)", raw(x)));
  auto ys = put("arrays", "y.npy", npy("<i8", "(40,)", raw(y)));
  auto sp = load_splits(parse_data_spec("arrays:x=" + xs.string() + ",y=" + ys.string() + ",val=0.25,test=0.25"));
  EXPECT_EQ(sp.train.x.sizes(), (std::vector<int64_t>{20, 2, 16}));
  EXPECT_EQ(sp.test.size(), 10);
  auto short_y = put("arrays", "y5.npy", npy("<i8", "(5,)", raw<int64_t>({0, 1, 0, 1, 0})));
  expect_invalid_argument([&] { read_array_dataset(xs, short_y); }, "expected 40 labels");
  auto nan_x = put("arrays", "nan.npy", npy("<f4", "(2, 2)", raw<float>({1, 2, NAN, INFINITY})));
  expect_invalid_argument([&] { read_array_dataset(nan_x, put("arrays", "y2.csv", "0\n1\n")); },
                          "nan.npy: 2 NaN or infinite value(s), the first at series 1, channel 0, sample 0");
  expect_invalid_argument([] { load_splits(parse_data_spec("arrays:x=a.npy")); }, "labels");
}
