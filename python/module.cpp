// cleanplate._core, the compiled half of `import cleanplate` (python/cleanplate/__init__.py holds
// the rest): the decomposition library on numpy arrays, the `separate` pipeline, model.npz, and the
// background subtractor. Matrices are read in place: a Fortran-order array is the matrix, a C-order
// array is its transpose, and the decompositions are computed on whichever the memory holds
// (A^T = V S U^T), so neither layout is copied. The GIL is released while computing; cleanplate's
// errors become cleanplate.Error, a ValueError.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cleanplate/linalg.hpp>
#include <cstring>
#include <opencv2/imgcodecs.hpp>
#include <type_traits>

#include "cleanplate/io/model_file.hpp"
#include "cleanplate/pipeline/command_line.hpp"
#include "cleanplate/stages/background_subtractor.hpp"

namespace py = pybind11;
using namespace cleanplate;

namespace {

template <typename Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <typename Scalar>
using Array = py::array_t<Scalar, 0>;  // no forcecast: float64 stays float64, float32 float32

// A 2-D array as a column-major matrix, in place. `transposed`: the array is C-order, so the
// matrix is its transpose. Other layouts (slices with steps) are copied once into Fortran order.
template <typename Scalar>
struct MatrixView {
  Array<Scalar> array;
  Eigen::Map<const Matrix<Scalar>> matrix;
  bool transposed;
};

template <typename Scalar>
MatrixView<Scalar> view(Array<Scalar> a) {
  if (a.ndim() != 2) throw Error("expected a 2-D array, got " + std::to_string(a.ndim()) + " dimensions");
  if (!(a.flags() & (py::array::f_style | py::array::c_style)))
    a = py::array_t<Scalar, py::array::f_style | py::array::forcecast>::ensure(a);
  const bool transposed = !(a.flags() & py::array::f_style);
  const Eigen::Index rows = a.shape(transposed ? 1 : 0), cols = a.shape(transposed ? 0 : 1);
  return {a, Eigen::Map<const Matrix<Scalar>>(a.data(), rows, cols), transposed};
}

// A matrix handed to numpy without a copy; `transpose`: as its numpy transpose (a view).
template <typename Scalar>
py::object to_numpy(Matrix<Scalar>&& m, bool transpose = false) {
  py::object array = py::cast(std::move(m));
  return transpose ? array.attr("T") : array;
}

// body() with the GIL released; the arrays it reads stay alive in the caller's frame.
template <typename Body>
auto without_gil(Body&& body) {
  py::gil_scoped_release release;
  return body();
}

// (U, s, Vt) of the matrix the view holds, as scikit-learn's randomized_svd returns them.
template <typename Scalar>
py::tuple svd_tuple(linalg::SvdResult<Scalar>&& svd, bool transposed) {
  // The view held A^T = U' S V'^T: A = V' S U'^T.
  Matrix<Scalar>& u = transposed ? svd.V : svd.U;
  Matrix<Scalar>& v = transposed ? svd.U : svd.V;
  return py::make_tuple(to_numpy(std::move(u)), py::cast(std::move(svd.singular_values)), to_numpy(std::move(v), true));
}

template <typename Scalar>
py::tuple randomized_svd(Array<Scalar> a, Eigen::Index rank, Eigen::Index oversampling, int power_iterations,
                         std::uint64_t seed) {
  const MatrixView<Scalar> m = view(a);
  return svd_tuple(
      without_gil([&] {
        return linalg::randomized_svd(
            m.matrix, {.rank = rank, .oversampling = oversampling, .power_iterations = power_iterations, .seed = seed});
      }),
      m.transposed);
}

template <typename Scalar>
py::tuple truncated_svd(Array<Scalar> a, Eigen::Index rank) {
  const MatrixView<Scalar> m = view(a);
  return svd_tuple(without_gil([&] { return linalg::truncated_svd(m.matrix, rank); }), m.transposed);
}

// ((U, s, Vt), sparse, iterations, converged); robust PCA and GoDec are the same on A^T. GoDec's
// sparse part (an Eigen::SparseMatrix) is returned dense.
template <typename Scalar, typename Result>
py::tuple split_tuple(Result&& r, bool transposed) {
  Matrix<Scalar> sparse;
  if constexpr (std::is_same_v<decltype(r.sparse), Matrix<Scalar>>)
    sparse = std::move(r.sparse);
  else
    sparse = Matrix<Scalar>(r.sparse);
  return py::make_tuple(svd_tuple(std::move(r.low_rank), transposed), to_numpy(std::move(sparse), transposed),
                        r.iterations, r.converged);
}

template <typename Scalar>
py::tuple robust_pca(Array<Scalar> a, double lam, double tolerance, int max_iterations, double penalty_growth,
                     Eigen::Index max_rank, std::uint64_t seed) {
  const MatrixView<Scalar> m = view(a);
  return split_tuple<Scalar>(without_gil([&] {
                               return linalg::robust_pca(m.matrix, {.lambda = lam,
                                                                    .tolerance = tolerance,
                                                                    .max_iterations = max_iterations,
                                                                    .penalty_growth = penalty_growth,
                                                                    .max_rank = max_rank,
                                                                    .seed = seed});
                             }),
                             m.transposed);
}

template <typename Scalar>
py::tuple godec(Array<Scalar> a, Eigen::Index rank, double sparse_fraction, double tolerance, int max_iterations,
                int power_iterations, std::uint64_t seed) {
  const MatrixView<Scalar> m = view(a);
  return split_tuple<Scalar>(without_gil([&] {
                               return linalg::godec(m.matrix, {.rank = rank,
                                                               .sparse_fraction = sparse_fraction,
                                                               .tolerance = tolerance,
                                                               .max_iterations = max_iterations,
                                                               .power_iterations = power_iterations,
                                                               .seed = seed});
                             }),
                             m.transposed);
}

template <typename Scalar>
py::tuple symmetric_eigen(Array<Scalar> a, Eigen::Index k) {
  const MatrixView<Scalar> m = view(a);  // symmetric: the transpose is the matrix
  auto r = without_gil([&] { return linalg::symmetric_eigen(m.matrix, k); });
  return py::make_tuple(py::cast(std::move(r.eigenvalues)), to_numpy(std::move(r.eigenvectors)));
}

// Pca on samples in rows: a C-order array (the usual one) is read in place as a row-major matrix.
template <typename Scalar, typename Body>
auto with_samples(Array<Scalar> a, Body&& body) {
  const MatrixView<Scalar> m = view(a);
  py::gil_scoped_release release;
  return m.transposed ? body(m.matrix.transpose()) : body(m.matrix);
}

template <typename Scalar>
void bind_pca(py::module_& module, const char* name) {
  using Pca = linalg::Pca<Scalar>;
  py::class_<Pca>(module, name)
      .def_static(
          "fit",
          [](Array<Scalar> data, Eigen::Index components, const std::string& solver, bool whiten, std::uint64_t seed) {
            linalg::PcaOptions options{.components = components, .whiten = whiten};
            options.randomized.seed = seed;
            if (solver == "auto")
              options.solver = linalg::PcaSolver::automatic;
            else if (solver == "full")
              options.solver = linalg::PcaSolver::exact;
            else if (solver == "randomized")
              options.solver = linalg::PcaSolver::randomized;
            else if (solver == "covariance_eigh")
              options.solver = linalg::PcaSolver::covariance;
            else
              throw Error("Pca: svd_solver must be 'auto', 'full', 'randomized' or 'covariance_eigh', got '" + solver +
                          "'");
            return with_samples(data, [&](const auto& x) { return Pca::fit(x, options); });
          })
      .def("transform",
           [](const Pca& pca, Array<Scalar> data) {
             return to_numpy(with_samples(data, [&](const auto& x) { return pca.transform(x); }));
           })
      .def("inverse_transform",
           [](const Pca& pca, Array<Scalar> scores) {
             return to_numpy(with_samples(scores, [&](const auto& x) { return pca.inverse_transform(x); }));
           })
      .def_property_readonly("components", [](const Pca& p) { return Matrix<Scalar>(p.components()); })
      .def_property_readonly("mean", [](const Pca& p) { return p.mean(); })
      .def_property_readonly("singular_values", [](const Pca& p) { return p.singular_values(); })
      .def_property_readonly("explained_variance", [](const Pca& p) { return p.explained_variance(); })
      .def_property_readonly("explained_variance_ratio", [](const Pca& p) { return p.explained_variance_ratio(); });
}

template <typename Scalar>
void bind_incremental_svd(py::module_& module, const char* name) {
  using Svd = linalg::IncrementalSvd<Scalar>;
  py::class_<Svd>(module, name)
      .def(py::init([](Eigen::Index rows, Eigen::Index rank, double forgetting_factor) {
             return Svd({.rank = rank, .forgetting_factor = forgetting_factor}, rows);
           }),
           py::arg("rows"), py::arg("rank") = 1, py::arg("forgetting_factor") = 1.0)
      .def(
          "update",
          [](Svd& svd, const Eigen::Ref<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>& column) {
            py::gil_scoped_release release;
            auto step = svd.update(column);
            return std::make_pair(std::move(step.coefficients), step.residual_norm);
          },
          py::arg("column"))
      .def("project",
           [](const Svd& svd, const Eigen::Ref<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>& column) {
             return svd.project(column);
           })
      .def_property_readonly("U", [](const Svd& svd) { return svd.U(); })
      .def_property_readonly("singular_values", [](const Svd& svd) { return svd.singular_values(); })
      .def_property_readonly("rank", &Svd::rank)
      .def_property_readonly("updates", &Svd::updates);
}

// An 8-bit grey (h x w) or BGR (h x w x 3) array as a cv::Mat over the same memory.
cv::Mat as_image(const py::array_t<std::uint8_t, py::array::c_style>& image) {
  if (image.ndim() != 2 && !(image.ndim() == 3 && image.shape(2) == 3))
    throw Error("BackgroundSubtractor: frames must be uint8 arrays of shape (h, w) or (h, w, 3)");
  return cv::Mat(static_cast<int>(image.shape(0)), static_cast<int>(image.shape(1)),
                 image.ndim() == 2 ? CV_8UC1 : CV_8UC3, const_cast<std::uint8_t*>(image.data()));
}

py::array_t<std::uint8_t> to_numpy(const cv::Mat& image) {
  std::vector<py::ssize_t> shape{image.rows, image.cols};
  if (image.channels() > 1) shape.push_back(image.channels());
  py::array_t<std::uint8_t> out(shape);
  image.copyTo(cv::Mat(image.rows, image.cols, image.type(), out.mutable_data()));
  return out;
}

// A model.npz read and checked, with the decoder that rebuilds its frames.
struct LoadedModel {
  explicit LoadedModel(const std::filesystem::path& path) : file(io::read_model_file(path)), decoder(file) {}
  io::ModelFile file;
  io::ModelDecoder decoder;  // refers to `file`

  // Frame j, or its background, as (h, w) or (h, w, channels) uint8.
  py::array_t<std::uint8_t> image(std::int64_t j, bool background_only) const {
    if (j < 0 || j >= file.frames)
      throw Error("frame " + std::to_string(j) + " is not in the model (" + std::to_string(file.frames) + " frames)");
    const std::vector<std::uint8_t> levels = background_only ? decoder.background(j) : decoder.frame(j);
    std::vector<py::ssize_t> shape{file.height, file.width};
    if (file.channels > 1) shape.push_back(file.channels);
    py::array_t<std::uint8_t> out(shape);
    std::memcpy(out.mutable_data(), levels.data(), levels.size());
    return out;
  }
};

template <typename Scalar>
void bind_linalg(py::module_& m) {
  m.def("randomized_svd", &randomized_svd<Scalar>, py::arg("a"), py::arg("rank") = 1, py::arg("oversampling") = 10,
        py::arg("power_iterations") = 2, py::arg("seed") = 0);
  m.def("truncated_svd", &truncated_svd<Scalar>, py::arg("a"), py::arg("rank"));
  m.def("robust_pca", &robust_pca<Scalar>, py::arg("a"), py::arg("lam") = 0.0, py::arg("tolerance") = 0.0,
        py::arg("max_iterations") = 500, py::arg("penalty_growth") = 1.5, py::arg("max_rank") = 0, py::arg("seed") = 0);
  m.def("godec", &godec<Scalar>, py::arg("a"), py::arg("rank") = 1, py::arg("sparse_fraction") = 0.05,
        py::arg("tolerance") = 1e-7, py::arg("max_iterations") = 100, py::arg("power_iterations") = 1,
        py::arg("seed") = 0);
  m.def("symmetric_eigen", &symmetric_eigen<Scalar>, py::arg("a"), py::arg("k") = -1);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "cleanplate: low-rank background / sparse foreground separation (compiled core)";
  py::register_exception<Error>(m, "Error", PyExc_ValueError);
  // float64 first: overloads are tried in order, exact dtype first, so float32 arrays stay float32
  // and anything else (int, bool) is converted to float64.
  bind_linalg<double>(m);
  bind_linalg<float>(m);
  bind_pca<double>(m, "Pca64");
  bind_pca<float>(m, "Pca32");
  bind_incremental_svd<double>(m, "IncrementalSvd64");
  bind_incremental_svd<float>(m, "IncrementalSvd32");

  m.def(
      "separate_command",
      [](const std::vector<std::string>& arguments) {
        py::gil_scoped_release release;
        return pipeline::separate_command(arguments).has_value();
      },
      "`cleanplate separate ARGUMENTS...`; False when --help was asked");

  m.def("read_mask_pngs", [](const std::vector<std::string>& paths) {
    // masks/bin*.png as one (frames, h, w) uint8 array
    if (paths.empty()) return py::array_t<std::uint8_t>(std::vector<py::ssize_t>{0, 0, 0});
    std::vector<cv::Mat> masks;
    for (const auto& path : paths) {
      cv::Mat mask = cv::imread(path, cv::IMREAD_GRAYSCALE);
      if (mask.empty() || (!masks.empty() && mask.size() != masks[0].size()))
        throw Error("cannot read mask '" + path + "'");
      masks.push_back(std::move(mask));
    }
    py::array_t<std::uint8_t> out({static_cast<py::ssize_t>(masks.size()), static_cast<py::ssize_t>(masks[0].rows),
                                   static_cast<py::ssize_t>(masks[0].cols)});
    for (std::size_t j = 0; j < masks.size(); ++j)
      std::memcpy(out.mutable_data(static_cast<py::ssize_t>(j)), masks[j].data, masks[j].total());
    return out;
  });

  m.def("read_image", [](const std::string& path) {
    const cv::Mat image = cv::imread(path, cv::IMREAD_UNCHANGED);
    if (image.empty() || image.depth() != CV_8U) throw Error("cannot read the 8-bit image '" + path + "'");
    return to_numpy(image);
  });

  py::class_<LoadedModel, std::unique_ptr<LoadedModel>>(m, "Model")
      .def(py::init([](const std::filesystem::path& path) {
             py::gil_scoped_release release;
             return std::make_unique<LoadedModel>(path);
           }),
           py::arg("path"))
      .def_property_readonly("frames", [](const LoadedModel& m) { return m.file.frames; })
      .def_property_readonly("height", [](const LoadedModel& m) { return m.file.height; })
      .def_property_readonly("width", [](const LoadedModel& m) { return m.file.width; })
      .def_property_readonly("channels", [](const LoadedModel& m) { return m.file.channels; })
      .def_property_readonly("fps", [](const LoadedModel& m) { return m.file.fps; })
      .def_property_readonly("psnr", [](const LoadedModel& m) { return m.file.psnr; })
      .def_property_readonly("rank", [](const LoadedModel& m) { return m.file.rank(); })
      .def(
          "frame", [](const LoadedModel& m, std::int64_t j) { return m.image(j, false); }, py::arg("index"))
      .def(
          "background", [](const LoadedModel& m, std::int64_t j) { return m.image(j, true); }, py::arg("index"));

  py::class_<BackgroundSubtractorLowRank>(m, "BackgroundSubtractor")
      .def(py::init([](Eigen::Index rank, double memory, long warmup, bool color, int model_block, bool shadows) {
             return BackgroundSubtractorLowRank({.rank = rank,
                                                 .memory = memory,
                                                 .warmup = warmup,
                                                 .mask = {.shadows = shadows},
                                                 .model_block = model_block},
                                                color);
           }),
           py::arg("rank") = 1, py::arg("memory") = 250.0, py::arg("warmup") = 25, py::arg("color") = false,
           py::arg("model_block") = 0, py::arg("shadows") = true)
      .def(
          "apply",
          [](BackgroundSubtractorLowRank& subtractor, const py::array_t<std::uint8_t, py::array::c_style>& image,
             double learning_rate) {
            const cv::Mat frame = as_image(image);
            cv::Mat mask;
            {
              py::gil_scoped_release release;
              subtractor.apply(frame, mask, learning_rate);
            }
            return to_numpy(mask);
          },
          py::arg("image"), py::arg("learning_rate") = -1.0)
      .def("get_background_image", [](const BackgroundSubtractorLowRank& subtractor) {
        cv::Mat background;
        subtractor.getBackgroundImage(background);
        return background.empty() ? py::object(py::none()) : py::object(to_numpy(background));
      });
}
