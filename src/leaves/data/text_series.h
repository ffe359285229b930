// Readers for the two text formats of the time-series classification archives.
//
// UCR (UCR Time Series Archive 2018, `NAME_TRAIN.tsv` / `NAME_TEST.tsv`): one
// case per line, the class label first, then the values, tab (or comma)
// separated. Labels are numbers; classes are indexed in increasing label order.
//
// UEA / sktime `.ts` (`NAME_TRAIN.ts` / `NAME_TEST.ts`): `#` comments, `@tag`
// header lines (@problemName, @timeStamps, @missing, @univariate, @dimensions,
// @equalLength, @seriesLength, @classLabel true LABELS..., @data), then one case
// per line: the dimensions separated by `:`, values by `,`, the class label
// last. Classes are indexed in the order @classLabel lists them.
//
// UEA `.arff` (the archive's other format, Weka's ARFF): `%` comments,
// `@relation`, `@attribute NAME numeric` per value and a last nominal class
// attribute `{a,b,...}`, then `@data` rows of values and the label. Multivariate
// sets come as one relational file (`@attribute NAME relational` ... `@end`;
// each row a quoted string whose dimensions are separated by `\n`) or as one
// univariate file per dimension, `NAMEDimension1_TRAIN.arff`,
// `NAMEDimension2_TRAIN.arff`, ... whose rows are the same cases.
//
// Missing values (`NaN` in UCR files, `?` in .ts and .arff files) are an error
// naming the file and line unless `missing = Interpolate`, which fills each gap
// linearly between its neighbours (and with the nearest value at the ends); a
// series with no value at all is always an error. Missing values at the end of
// a series are the archives' padding of shorter series (the UCR 2018 archive
// pads its varying-length sets with NaN, the ARFF files with `?`): the series
// ends there. Time stamps and malformed lines are errors naming the file and
// line.
//
// Series of unequal length (JapaneseVowels: 7 to 29 values) become one length
// by `LengthOptions`: "resample" (the default: linear interpolation, first and
// last values kept, to the longest training series: every series keeps its
// whole course, as a convolutional encoder with global pooling expects), "pad"
// (shorter series repeat their last value up to the longest training length;
// longer test series are cut), "truncate" (every series cut to the shortest
// training length; shorter test series are padded), or "error"; `length` > 0
// sets the common length instead. A note on stderr says what was done. All the
// dimensions of one case must have the same length.
#pragma once
#include <filesystem>
#include <string>
#include <utility>

#include "leaves/data/dataset.h"

namespace leaves::data {

enum class MissingValues { Error, Interpolate };
MissingValues parse_missing_values(const std::string& name);

enum class UnequalLengths { Resample, Pad, Truncate, Error };
/// "resample", "pad", "truncate" or "error"; throws std::invalid_argument otherwise.
UnequalLengths parse_unequal_lengths(const std::string& name);

struct LengthOptions {
  UnequalLengths unequal = UnequalLengths::Resample;
  int64_t length = 0;  ///< the common length; 0: from the training file (see above)
};

/// Reads one UCR `.tsv` file. `class_labels` (sorted numeric labels) fixes the
/// class indexing; empty means "the labels found in this file".
Dataset read_ucr_file(const std::filesystem::path& file, MissingValues missing = MissingValues::Error,
                      std::vector<double> class_labels = {}, const LengthOptions& lengths = {});

/// Reads one UEA `.ts` file.
Dataset read_uea_file(const std::filesystem::path& file, MissingValues missing = MissingValues::Error,
                      const LengthOptions& lengths = {});

/// Reads one `.arff` file (univariate or relational multivariate).
Dataset read_arff_file(const std::filesystem::path& file, MissingValues missing = MissingValues::Error,
                       const LengthOptions& lengths = {});

/// Reads `DIR/NAME_TRAIN.EXT` and `DIR/NAME_TEST.EXT` (NAME = the folder's name)
/// with one class indexing and one length for both. Returns {train, test}.
/// UEA: NAME_TRAIN.ts, else NAME_TRAIN.arff, else NAMEDimension1_TRAIN.arff ...
std::pair<Dataset, Dataset> read_ucr_archive(const std::filesystem::path& dir, MissingValues missing,
                                             const LengthOptions& lengths = {});
std::pair<Dataset, Dataset> read_uea_archive(const std::filesystem::path& dir, MissingValues missing,
                                             const LengthOptions& lengths = {});

}  // namespace leaves::data
