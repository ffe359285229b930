// leaves._leaves: the C++ library seen from Python (pybind11 on the LibTorch
// that Python's torch itself runs on, so tensors cross without a copy and one
// autograd graph spans both languages).
//
// This file only converts: Python values to the option schema's JSON, the
// library's objects to handles, its exceptions to Python's. The torch.nn.Module
// classes users see are written in Python (python/leaves/__init__.py) around
// these handles; they hold the C++ modules' own parameter tensors, so a Python
// optimizer steps the very tensors the C++ forward reads.
#include <torch/extension.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "leaves/data/spec.h"
#include "leaves/data/tables.h"
#include "leaves/eval/linear_probe.h"
#include "leaves/loss/nt_xent.h"
#include "leaves/nn/resnet1d.h"
#include "leaves/option_error.h"
#include "leaves/train/options.h"
#include "leaves/train/pretrain.h"
#include "leaves/version.h"
#include "leaves/views/factory.h"

namespace py = pybind11;

/// Long C++ calls run without the GIL, as torch's own operators do: a
/// DataLoader's threads or a second model go on meanwhile. (Arguments are
/// converted before and results after, with the GIL held.)
const py::call_guard<py::gil_scoped_release> kNoGil{};

namespace {

using leaves::OptionError;

/// The options of each generator class (the schema's keys that its C++
/// module reads); the rest of the schema belongs to the other generators.
const std::map<std::string, std::vector<std::string>>& generator_keys() {
  static const std::map<std::string, std::vector<std::string>> keys = {
      {"leaves",
       {"eta", "mixture_components", "max_segments", "knots", "interpolation", "per_channel", "normalize",
        "perm_estimator", "sampling"}},
      {"random", {"sigma", "max_segments", "knots", "interpolation", "per_channel"}},
      {"viewmaker", {"channels", "budget"}},
  };
  return keys;
}

const char* class_of(const std::string& kind) {
  return kind == "leaves" ? "leaves.Leaves" : kind == "random" ? "leaves.RandomViews" : "leaves.ViewMaker";
}

/// A Python keyword argument as the schema's JSON: bool, int, float or str,
/// and other numbers (NumPy scalars, one-element tensors) as an integer when
/// they are one, else as a float; anything else is refused naming the keyword.
nlohmann::json to_json(const std::string& key, const py::handle& value) {
  PyObject* o = value.ptr();
  try {
    if (PyBool_Check(o)) return value.cast<bool>();
    if (PyLong_Check(o)) return value.cast<int64_t>();
    if (PyFloat_Check(o)) return value.cast<double>();
    if (PyUnicode_Check(o)) return value.cast<std::string>();
  } catch (const py::cast_error&) {
    throw OptionError(key, " must fit in a 64-bit integer, got " + py::str(value).cast<std::string>());
  }
  if (PyIndex_Check(o)) {
    if (PyObject* i = PyNumber_Index(o)) return py::reinterpret_steal<py::int_>(i).cast<int64_t>();
    PyErr_Clear();
  }
  if (PyNumber_Check(o)) {
    const double d = PyFloat_AsDouble(o);
    if (!(d == -1.0 && PyErr_Occurred())) return d;
    PyErr_Clear();
  }
  throw OptionError(key, " must be a number, True/False or a string, got a " + std::string(Py_TYPE(o)->tp_name));
}

/// The generator `kind` with the keyword arguments `kwargs` (schema keys),
/// checked as the command line checks them.
leaves::views::GeneratorConfig generator_config(const std::string& kind, const py::dict& kwargs) {
  const auto& schema = leaves::options::generator_schema();
  const auto found = generator_keys().find(kind);
  if (found == generator_keys().end()) throw OptionError("kind", " must be leaves, random or viewmaker, got " + kind);
  const auto& allowed = found->second;
  leaves::views::GeneratorConfig c;
  c.kind = kind;
  for (const auto& [k, v] : kwargs) {
    const auto key = k.cast<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      throw OptionError(key, std::string(" is not an option of ") + class_of(kind) + "; its options: " + list);
    }
    schema.find(key)->set(c, to_json(key, v));
  }
  schema.check(c);
  return c;
}

/// [(key, default, values, help)] of a generator class, for its docstring.
py::list generator_options(const std::string& kind) {
  const auto& schema = leaves::options::generator_schema();
  leaves::views::GeneratorConfig defaults;
  py::list out;
  for (const auto& key : generator_keys().at(kind)) {
    const auto* o = schema.find(key);
    out.append(py::make_tuple(key, leaves::options::argument_text(o->get(defaults)), o->spec.range_text(), o->spec.help));
  }
  return out;
}

/// A C++ module's tree: its own parameters and buffers, then its children's,
/// as {"parameters": [(name, tensor)], "buffers": [...], "children": [(name, tree)]}.
py::dict module_tree(torch::nn::Module& m) {
  py::list params, buffers, children;
  for (const auto& p : m.named_parameters(/*recurse=*/false)) params.append(py::make_tuple(p.key(), p.value()));
  for (const auto& b : m.named_buffers(/*recurse=*/false)) buffers.append(py::make_tuple(b.key(), b.value()));
  for (const auto& c : m.named_children()) children.append(py::make_tuple(c.key(), module_tree(*c.value())));
  // "leaves::augment::JitterImpl" -> "Jitter", "torch::nn::Conv1dImpl" -> "Conv1d"
  std::string name = m.name();
  name.erase(0, name.rfind(':') + 1);  // npos + 1 == 0: nothing to erase without a namespace
  if (name.size() > 4 && name.compare(name.size() - 4, 4, "Impl") == 0) name.resize(name.size() - 4);
  py::dict d;
  d["name"] = name;
  d["parameters"] = params;
  d["buffers"] = buffers;
  d["children"] = children;
  return d;
}

/// A view generator (LEAVES, ViewMaker or the random baseline).
struct Generator {
  std::shared_ptr<leaves::views::ViewGenerator> impl;
  py::dict options;  ///< the configuration it was built with, every key of its class
};

/// A schema value (bool, integer, number or text) as a Python object.
py::object to_python(const nlohmann::json& v) {
  if (v.is_boolean()) return py::bool_(v.get<bool>());
  if (v.is_number_integer() || v.is_number_unsigned()) return py::int_(v.get<int64_t>());
  if (v.is_number()) return py::float_(v.get<double>());
  return py::str(v.get<std::string>());
}

/// The options of `c` that its generator class reads, as a dict.
py::dict options_of(const leaves::views::GeneratorConfig& c) {
  const auto json = leaves::options::generator_schema().to_json(c);
  py::dict options;
  for (const auto& key : generator_keys().at(c.kind)) options[py::str(key)] = to_python(json.at(key));
  return options;
}

Generator make_generator(const std::string& kind, const py::dict& kwargs) {
  const auto c = generator_config(kind, kwargs);
  return {leaves::views::make_generator(c), options_of(c)};
}

Generator load_generator(const std::string& run_dir) {
  leaves::train::PretrainConfig config;
  auto g = leaves::train::load_generator(run_dir, &config);
  auto views = config.views;
  views.kind = g->kind();
  return {g, options_of(views)};
}

/// A ResNet-18 1D encoder: `[B, C, L]` -> `[B, 8 width]`.
struct Encoder {
  leaves::nn::ResNet1d impl{nullptr};
};

py::dict split_dict(const leaves::data::Dataset& d) {
  py::dict s;
  s["x"] = d.x;
  s["y"] = d.y;
  s["targets"] = d.targets.defined() ? py::cast(d.targets) : py::none();
  return s;
}

}  // namespace

PYBIND11_MODULE(_leaves, m) {
  m.doc() = "leaves' C++ library: the handles behind the leaves package (use `import leaves`)";

  // OptionError is a std::invalid_argument, which pybind11 raises as ValueError
  // with its message; LibTorch's own errors keep their message without the
  // C++ backtrace; a file the library could not read is an OSError.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const c10::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what_without_backtrace());
    } catch (const std::filesystem::filesystem_error& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    }
  });

  py::class_<Generator>(m, "Generator", py::module_local())
      .def("forward", [](Generator& g, const torch::Tensor& x) { return g.impl->forward(x); }, kNoGil)
      .def_property_readonly("kind", [](const Generator& g) { return g.impl->kind(); })
      .def_readonly("options", &Generator::options)
      .def("report", [](const Generator& g) {
        py::dict d;
        for (const auto& [name, value] : leaves::views::named_report(*g.impl)) d[py::str(name)] = value;
        return d;
      })
      .def("train", [](Generator& g, bool mode) { g.impl->train(mode); })
      .def("tree", [](Generator& g) { return module_tree(*g.impl); });

  py::class_<Encoder>(m, "Encoder", py::module_local())
      .def("forward", [](Encoder& e, const torch::Tensor& x) {
        if (x.dim() != 3 || x.size(1) != e.impl->options.in_channels())
          throw OptionError("x", " must be [B, " + std::to_string(e.impl->options.in_channels()) + ", L], got " +
                                     c10::str(x.sizes()));
        return e.impl->forward(x);
      }, kNoGil)
      .def("embed", [](Encoder& e, const torch::Tensor& x, int64_t batch_size) {
        if (batch_size < 1) throw OptionError("batch_size", " must be >= 1, got " + std::to_string(batch_size));
        return leaves::eval::embed(e.impl, x, batch_size);
      }, kNoGil)
      .def_property_readonly("in_channels", [](const Encoder& e) { return e.impl->options.in_channels(); })
      .def_property_readonly("width", [](const Encoder& e) { return e.impl->options.width(); })
      .def_property_readonly("output_dim", [](const Encoder& e) { return e.impl->output_dim(); })
      .def("train", [](Encoder& e, bool mode) { e.impl->train(mode); })
      .def("tree", [](Encoder& e) { return module_tree(*e.impl); });

  m.def("make_generator", &make_generator, py::arg("kind"), py::arg("options"));
  m.def("generator_options", &generator_options, py::arg("kind"));
  m.def("load_generator", &load_generator, py::arg("run_dir"));
  m.def("make_encoder", [](int64_t in_channels, int64_t width) {
    if (in_channels < 1) throw OptionError("in_channels", " must be >= 1, got " + std::to_string(in_channels));
    leaves::options::check_value(leaves::options::pretrain_schema().find("width")->spec, width);  // the CLI's bounds
    return Encoder{leaves::nn::ResNet1d(leaves::nn::ResNet1dOptions(in_channels).width(width))};
  }, py::arg("in_channels"), py::arg("width"));
  m.def("load_encoder", [](const std::string& run_dir) { return Encoder{leaves::train::load_encoder(run_dir)}; },
        py::arg("run_dir"), kNoGil);
  m.def("load_data", [](const std::string& spec) {
    leaves::data::Splits splits;
    {
      py::gil_scoped_release no_gil;  // reading and parsing files: other Python threads run meanwhile
      splits = leaves::data::load_splits(leaves::data::parse_data_spec(spec));
    }
    py::dict d;
    d["train"] = split_dict(splits.train);
    d["val"] = split_dict(splits.val);
    d["test"] = split_dict(splits.test);
    d["class_names"] = splits.train.class_names;
    d["channel_names"] = splits.train.channel_names;
    d["rate"] = splits.train.rate;
    d["name"] = splits.train.name;
    return d;
  }, py::arg("spec"));
  m.def("nt_xent", [](const torch::Tensor& z1, const torch::Tensor& z2, double temperature) {
    if (!(temperature > 0)) throw OptionError("temperature", " must be > 0, got " + std::to_string(temperature));
    if (z1.dim() != 2 || z1.sizes() != z2.sizes() || z1.size(0) < 1)
      throw OptionError("z1", " and z2 must both be [N, D] with N >= 1, got " + c10::str(z1.sizes()) + " and " +
                                  c10::str(z2.sizes()));
    return leaves::loss::nt_xent(z1, z2, temperature);
  }, py::arg("z1"), py::arg("z2"), py::arg("temperature"), kNoGil);
  m.def("read_npy", [](const std::string& file) { return leaves::data::read_npy(file); }, py::arg("file"));
  m.def("write_npy", [](const std::string& file, const torch::Tensor& t) { leaves::data::write_npy(file, t); },
        py::arg("file"), py::arg("tensor"));
  m.attr("torch_version") = TORCH_VERSION;
  m.attr("version") = leaves::kVersion;
}
