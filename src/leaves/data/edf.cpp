#include "leaves/data/edf.h"

#include <edflib.h>

#include <memory>
#include <stdexcept>

namespace leaves::data {

namespace fs = std::filesystem;

namespace {

std::string describe(int code) {
  switch (code) {
    case EDFLIB_MALLOC_ERROR: return "out of memory";
    case EDFLIB_NO_SUCH_FILE_OR_DIRECTORY: return "no such file";
    case EDFLIB_FILE_CONTAINS_FORMAT_ERRORS: return "the file is not valid EDF/EDF+ (format errors in its header or data)";
    case EDFLIB_MAXFILES_REACHED: return "too many files open";
    case EDFLIB_FILE_READ_ERROR: return "read error";
    case EDFLIB_FILE_ALREADY_OPENED: return "the file is already open";
    case EDFLIB_FILETYPE_ERROR: return "not an EDF file";
    case EDFLIB_FILE_IS_DISCONTINUOUS: return "discontinuous EDF+D files are not supported";
    default: return "EDFlib error " + std::to_string(code);
  }
}

// An open file, closed on scope exit. The header struct is large: heap-allocated.
struct EdfHandle {
  std::unique_ptr<edf_hdr_struct> hdr = std::make_unique<edf_hdr_struct>();
  int handle = -1;
  EdfHandle(const fs::path& file, int annotations) {
    if (!fs::exists(file)) throw std::invalid_argument(file.string() + ": no such file");
    if (edfopen_file_readonly(file.c_str(), hdr.get(), annotations) < 0) {
      throw std::invalid_argument(file.string() + ": " + describe(hdr->filetype));
    }
    handle = hdr->handle;
  }
  ~EdfHandle() {
    if (handle >= 0) edfclose_file(handle);
  }
  EdfHandle(const EdfHandle&) = delete;
  EdfHandle& operator=(const EdfHandle&) = delete;
};

constexpr double kTime = EDFLIB_TIME_DIMENSION;  // units per second

}  // namespace

EdfInfo read_edf_info(const fs::path& file) {
  EdfHandle f(file, EDFLIB_READ_ALL_ANNOTATIONS);
  const auto& h = *f.hdr;
  EdfInfo info;
  info.plus = h.filetype == EDFLIB_FILETYPE_EDFPLUS || h.filetype == EDFLIB_FILETYPE_BDFPLUS;
  info.duration = h.file_duration / kTime;
  const double record_seconds = h.datarecord_duration / kTime;
  for (int i = 0; i < h.edfsignals; ++i) {
    const auto& p = h.signalparam[i];
    info.signals.push_back({trim(p.label), record_seconds > 0 ? p.smp_in_datarecord / record_seconds : 0.0,
                            p.smp_in_file, trim(p.physdimension)});
  }
  for (long long n = 0; n < h.annotations_in_file; ++n) {
    edf_annotation_struct a{};
    if (edf_get_annotation(f.handle, static_cast<int>(n), &a) != 0) {
      throw std::invalid_argument(file.string() + ": cannot read annotation " + std::to_string(n));
    }
    info.annotations.push_back({a.onset / kTime, a.duration_l < 0 ? -1.0 : a.duration_l / kTime, a.annotation});
  }
  return info;
}

torch::Tensor read_edf_signal(const fs::path& file, const std::string& label) {
  EdfHandle f(file, EDFLIB_DO_NOT_READ_ANNOTATIONS);
  const auto& h = *f.hdr;
  std::string labels;
  for (int i = 0; i < h.edfsignals; ++i) {
    const std::string name = trim(h.signalparam[i].label);
    if (name == trim(label)) {
      const long long n = h.signalparam[i].smp_in_file;
      auto buf = torch::empty({static_cast<int64_t>(n)}, torch::kDouble);
      if (n > 0 && edfread_physical_samples(f.handle, i, static_cast<int>(n), buf.data_ptr<double>()) != n) {
        throw std::invalid_argument(file.string() + ": signal '" + name + "' is truncated or unreadable");
      }
      return buf.to(torch::kFloat);
    }
    labels += (labels.empty() ? "" : ", ") + ("'" + name + "'");
  }
  throw std::invalid_argument(file.string() + ": no signal labelled '" + label + "' (it has " +
                              (labels.empty() ? std::string("none") : labels) + ")");
}

}  // namespace leaves::data
