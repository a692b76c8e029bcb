// The model file's codec and container: quantized factors within their precision, foreground
// coding within half a step (exact at step 1), write -> read returning every field, and the
// reader's checks on inconsistent content.
#include <gtest/gtest.h>

#include <cleanplate/error.hpp>
#include <cleanplate/io/model_file.hpp>
#include <cleanplate/io/npz_reader.hpp>
#include <filesystem>
#include <random>

#include "model_file_in_memory.hpp"

namespace cleanplate::io {
namespace {
namespace fs = std::filesystem;

// A small model of a 7x5 grey video of 9 frames: rank 2 from BDCSVD of random data, and a
// foreground coded from random frames (odd sizes, so the bitmaps have padding bits).
struct Example {
  ModelFile model;
  std::vector<std::vector<std::uint8_t>> frames;
};

Example make_example(FactorPrecision precision, std::int64_t step, int tolerance) {
  Example e;
  auto& m = e.model;
  m.frames = 9, m.height = 5, m.width = 7, m.channels = 1, m.fps = 12.5, m.producer = "model_file_test";
  std::mt19937 random(3);
  const Eigen::MatrixXf data =
      Eigen::MatrixXf::NullaryExpr(35, 9, [&] { return std::uniform_real_distribution<float>(0.2f, 0.8f)(random); });
  quantize_factors(m, linalg::truncated_svd(data, 2), precision);
  m.foreground_step = step, m.foreground_tolerance = tolerance, m.lossless = step == 1 && tolerance == 0;
  const ModelDecoder decoder(m);
  std::uniform_int_distribution<int> level(0, 255);
  for (std::int64_t j = 0; j < m.frames; ++j) {
    std::vector<std::uint8_t> frame(35);
    for (auto& v : frame) v = static_cast<std::uint8_t>(level(random));
    std::vector<std::uint8_t> keep(5, 0);
    keep[0] = 0xA5;  // some pixels coded because the mask says so
    append_frame(m, encode_foreground(frame, decoder.background(j), keep, 1, step, tolerance));
    e.frames.push_back(frame);
  }
  return e;
}

TEST(ModelFile, FactorsKeepTheirPrecision) {
  std::mt19937 random(5);
  const Eigen::MatrixXf data =
      Eigen::MatrixXf::NullaryExpr(200, 40, [&] { return std::normal_distribution<float>()(random); });
  const auto svd = linalg::truncated_svd(data, 3);
  for (const auto& [precision, relative] :
       {std::pair{FactorPrecision::f32, 0.0}, {FactorPrecision::f16, 1.0 / 2048}, {FactorPrecision::int8, 0.5 / 127}}) {
    ModelFile m;
    quantize_factors(m, svd, precision);
    const Eigen::MatrixXd U = m.U.cast<double>() * m.U_scale.asDiagonal();
    for (Eigen::Index k = 0; k < 3; ++k) {
      const double largest = svd.U.col(k).cwiseAbs().maxCoeff();
      EXPECT_LE((U.col(k) - svd.U.col(k).cast<double>()).cwiseAbs().maxCoeff(), relative * largest + 1e-12)
          << factor_precision_name(precision);
    }
    if (precision == FactorPrecision::int8) {
      EXPECT_EQ(m.U.cwiseAbs().maxCoeff(), 127.0f);
    }
  }
}

TEST(ModelFile, ForegroundIsWithinHalfAStepAndExactWhenLossless) {
  for (const std::int64_t step : {1, 2, 5}) {
    const Example e = make_example(FactorPrecision::f16, step, step == 1 ? 0 : 30);
    const ModelDecoder decoder(e.model);
    for (std::int64_t j = 0; j < e.model.frames; ++j) {
      const auto rebuilt = decoder.frame(j), background = decoder.background(j);
      for (std::size_t i = 0; i < rebuilt.size(); ++i) {
        const int error = std::abs(rebuilt[i] - e.frames[j][i]);
        const bool coded = (e.model.foreground_mask[j * 5 + i / 8] & (0x80 >> (i % 8))) != 0;
        if (coded) {
          EXPECT_LE(error, step / 2) << "step " << step << " frame " << j << " pixel " << i;
        } else {
          EXPECT_LE(std::abs(background[i] - e.frames[j][i]), step == 1 ? 0 : 30)
              << "an uncoded pixel beyond the tolerance";
        }
      }
    }
  }
}

TEST(ModelFile, WriteThenReadGivesTheSameModel) {
  const fs::path path = fs::temp_directory_path() / "cleanplate-model-file-test.npz";
  for (const auto precision : {FactorPrecision::f32, FactorPrecision::f16, FactorPrecision::int8}) {
    Example e = make_example(precision, 3, 20);
    e.model.psnr = 41.5;
    write_model_file(path, e.model);
    const ModelFile r = read_model_file(path);
    EXPECT_EQ(r.producer, "model_file_test");
    EXPECT_EQ(std::vector<std::int64_t>({r.frames, r.height, r.width, r.channels}),
              std::vector<std::int64_t>({9, 5, 7, 1}));
    EXPECT_EQ(r.fps, 12.5);
    EXPECT_EQ(r.precision, precision);
    EXPECT_EQ(r.U, e.model.U);
    EXPECT_EQ(r.V, e.model.V);
    EXPECT_EQ(r.S, e.model.S);
    EXPECT_EQ(r.U_scale, e.model.U_scale);
    EXPECT_EQ(r.foreground_step, 3);
    EXPECT_EQ(r.foreground_tolerance, 20);
    EXPECT_EQ(r.foreground_offsets, e.model.foreground_offsets);
    EXPECT_EQ(r.foreground_mask, e.model.foreground_mask);
    EXPECT_EQ(r.foreground_values, e.model.foreground_values);
    EXPECT_EQ(r.psnr, 41.5);
    const ModelDecoder a(e.model), b(r);
    for (std::int64_t j = 0; j < r.frames; ++j) EXPECT_EQ(a.frame(j), b.frame(j));
  }
  fs::remove(path);
}

// A written model's frames against the example's: rows of V and the coded foreground.
void expect_same_frames(const ModelFile& written, const ModelFile& expected) {
  EXPECT_EQ(written.frames, expected.frames);
  EXPECT_EQ(written.V, expected.V);
  EXPECT_EQ(written.foreground_offsets, expected.foreground_offsets);
  EXPECT_EQ(written.foreground_mask, expected.foreground_mask);
  EXPECT_EQ(written.foreground_values, expected.foreground_values);
}

// The streaming writer gives the file write_model_file gives: the same arrays (values narrowed to
// int8 from step 3 on), the same frames, also when each frame is deflated against the one before
// it; its temporary files are gone afterwards.
TEST(ModelFile, WriterFrameByFrameGivesTheSameFile) {
  const fs::path folder = fs::temp_directory_path() / "cleanplate-model-writer-test";
  fs::remove_all(folder);
  fs::create_directories(folder);
  for (const auto& [step, with_previous] :
       {std::pair<std::int64_t, bool>{1, false}, {3, false}, {1, true}, {3, true}}) {
    const Example e = make_example(FactorPrecision::f16, step, step == 1 ? 0 : 20);
    ModelFile header = e.model;
    header.V.resize(0, 2), header.foreground_offsets = {0}, header.foreground_mask.clear(),
                           header.foreground_values.clear();
    {
      ModelWriter writer(folder / "streamed.npz", header, with_previous ? 9 : 1);
      const ModelDecoder decoder(e.model);
      CodedFrame previous;
      for (std::int64_t j = 0; j < e.model.frames; ++j) {
        const Eigen::VectorXf v = e.model.V.row(j).transpose();
        EXPECT_EQ(writer.background(v), decoder.background(j));
        std::vector<std::uint8_t> keep(5, 0);
        keep[0] = 0xA5;
        CodedFrame coded = encode_foreground(e.frames[j], writer.background(v), keep, 1, step, step == 1 ? 0 : 20);
        writer.append(writer.deflate(coded, with_previous && j > 0 ? &previous : nullptr), v);
        previous = std::move(coded);
      }
      writer.finish(41.5);
    }
    const ModelFile r = read_model_file(folder / "streamed.npz");
    EXPECT_EQ(r.U, e.model.U);
    expect_same_frames(r, e.model);
    EXPECT_EQ(r.psnr, 41.5);
    const auto entries = std::distance(fs::directory_iterator(folder), fs::directory_iterator());
    EXPECT_EQ(entries, 1) << "the temporary arrays are removed";
  }
  fs::remove_all(folder);
}

// Parts written by several writers (mpirun's ranks) and appended by one give the file one writer
// gives: frames 0-3, 4-8 and none, each part's foreground joined as compressed bytes.
TEST(ModelFile, PartsAppendedGiveTheSameFile) {
  const fs::path folder = fs::temp_directory_path() / "cleanplate-model-parts-test";
  fs::remove_all(folder);
  fs::create_directories(folder);
  const Example e = make_example(FactorPrecision::f16, 3, 20);
  ModelFile header = e.model;
  header.V.resize(0, 2), header.foreground_offsets = {0}, header.foreground_mask.clear(),
                         header.foreground_values.clear();
  const std::vector<std::pair<std::int64_t, std::int64_t>> ranges{{0, 4}, {4, 9}};
  for (std::size_t part = 0; part < ranges.size(); ++part) {
    ModelWriter writer(folder / ("part" + std::to_string(part) + ".npz"), header);
    for (std::int64_t j = ranges[part].first; j < ranges[part].second; ++j) {
      const Eigen::VectorXf v = e.model.V.row(j).transpose();
      std::vector<std::uint8_t> keep(5, 0);
      keep[0] = 0xA5;
      writer.append(writer.deflate(encode_foreground(e.frames[j], writer.background(v), keep, 1, 3, 20)), v);
    }
    writer.finish_part();
  }
  {
    ModelWriter joined(folder / "joined.npz", header);
    for (std::size_t part = 0; part < ranges.size(); ++part)
      joined.append_part(folder / ("part" + std::to_string(part) + ".npz"));
    joined.finish(41.5);
  }
  expect_same_frames(read_model_file(folder / "joined.npz"), e.model);
  EXPECT_THROW(ModelWriter(folder / "other.npz", header).append_part(folder / "joined.npz"), Error)
      << "a finished model is not a part";
  fs::remove_all(folder);
}

TEST(ModelFile, InconsistentContentIsRefused) {
  const fs::path path = fs::temp_directory_path() / "cleanplate-model-file-bad.npz";
  const auto expect_refused = [&](ModelFile m, const std::string& message) {
    write_model_file(path, m);
    try {
      (void)read_model_file(path);
      ADD_FAILURE() << "accepted; expected '" << message << "'";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(message), std::string::npos) << error.what();
    }
  };
  const ModelFile good = make_example(FactorPrecision::f16, 2, 10).model;
  ModelFile m = good;
  m.foreground_mask[4] |= 0x01;  // pixel 39 of a 35-pixel frame, and one coded pixel less, so the count still agrees
  m.foreground_mask[0] &= 0x7f;  // (pixel 0 is coded: the mask set it)
  expect_refused(m, "bits past the last pixel");
  m = good;
  m.foreground_mask[0] ^= 0x80;
  expect_refused(m, "bitmap and value count disagree");
  m = good;
  m.U(3, 1) = NAN;
  expect_refused(m, "not finite");
  m = good;
  m.foreground_step = 0;
  expect_refused(m, "foreground_step");
  m = good;
  m.foreground_offsets[3] = m.foreground_offsets[4] + 1;
  expect_refused(m, "do not rise");
  fs::remove(path);
}

}  // namespace
}  // namespace cleanplate::io
