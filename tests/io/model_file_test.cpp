// The model file's codec and container: quantized factors within their precision, version 1's
// foreground coding within half a step (exact at step 1), version 2's residual video within one grey
// level when libx264 codes it losslessly, write -> read returning every field, the PSNR the writer
// measures, and the reader's checks on inconsistent content.
#include <gtest/gtest.h>

#include <cleanplate/error.hpp>
#include <cleanplate/io/model_file.hpp>
#include <cleanplate/io/npz_reader.hpp>
#include <filesystem>
#include <random>

#include "model_file_in_memory.hpp"
#include "residual_video.hpp"

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
  m.version = 1;
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
  // int16: a step of U moves each fitted frame's background by at most half a grey level, so
  // rounding to the nearest step errs by at most a quarter of one.
  ModelFile m;
  quantize_factors(m, svd, FactorPrecision::int16);
  EXPECT_EQ(m.U.array().round().matrix(), m.U);
  for (Eigen::Index k = 0; k < 3; ++k) {
    const Eigen::MatrixXd exact =
        svd.U.col(k).cast<double>() * svd.singular_values(k) * svd.V.col(k).cast<double>().transpose();
    const Eigen::MatrixXd stored =
        (m.U.col(k).cast<double>() * m.U_scale(k)) * m.S(k) * m.V.col(k).cast<double>().transpose();
    EXPECT_LE((stored - exact).cwiseAbs().maxCoeff() * 255, 0.25 * (1 + 1e-6));
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

// PSNR of a model's rebuilt frames against the frames coded.
double psnr_of(const ModelFile& model, const std::vector<std::vector<std::uint8_t>>& frames) {
  const ModelDecoder decoder(model);
  double squared = 0, values = 0;
  for (std::int64_t j = 0; j < model.frames; ++j) {
    const auto rebuilt = decoder.frame(j);
    for (std::size_t i = 0; i < rebuilt.size(); ++i) squared += std::pow(rebuilt[i] - frames[j][i], 2);
    values += static_cast<double>(rebuilt.size());
  }
  return 10 * std::log10(255.0 * 255.0 * values / squared);
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
      writer.finish();
    }
    const ModelFile r = read_model_file(folder / "streamed.npz");
    EXPECT_EQ(r.U, e.model.U);
    expect_same_frames(r, e.model);
    EXPECT_DOUBLE_EQ(r.psnr, psnr_of(r, e.frames));
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
    joined.finish();
  }
  const ModelFile r = read_model_file(folder / "joined.npz");
  expect_same_frames(r, e.model);
  EXPECT_DOUBLE_EQ(r.psnr, psnr_of(r, e.frames));
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

// Version 2: a 33x25 video (odd sizes) of a bright square crossing a gradient with noise, rank 1.
struct Video {
  ModelFile header;                                      // version 2, without frames
  std::vector<std::vector<std::uint8_t>> frames, masks;  // masks: the square's pixels as a bitmap
  Eigen::MatrixXf V;                                     // each frame's stored row
};

Video make_video(int channels, std::int64_t quality) {
  Video video;
  const int width = 33, height = 25, count = 20;
  std::mt19937 random(11);
  std::normal_distribution<double> noise(0, 3);
  Eigen::MatrixXf data(width * height * channels, count);
  for (int j = 0; j < count; ++j) {
    std::vector<std::uint8_t> frame(static_cast<std::size_t>(width * height * channels));
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(width * height + 7) / 8, 0);
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x)
        for (int c = 0; c < channels; ++c) {
          const bool square = x >= j && x < j + 8 && y >= 8 && y < 16;
          if (square) mask[static_cast<std::size_t>(y * width + x) / 8] |= 0x80 >> ((y * width + x) % 8);
          const double level = square ? 230.0 - 40 * c : 40 + 4 * x + 2 * y + 10 * c + noise(random);
          const auto i = static_cast<std::size_t>((y * width + x) * channels + c);
          frame[i] = static_cast<std::uint8_t>(std::clamp(std::round(level), 0.0, 255.0));
          data(static_cast<Eigen::Index>(i), j) = frame[i] / 255.0f;
        }
    video.frames.push_back(std::move(frame));
    video.masks.push_back(std::move(mask));
  }
  ModelFile& m = video.header;
  m.frames = count, m.height = height, m.width = width, m.channels = channels, m.fps = 25, m.quality = quality;
  m.producer = "model_file_test";
  quantize_factors(m, linalg::truncated_svd(data, 1), FactorPrecision::int16);
  video.V = m.V;
  m.V.resize(0, 1);
  return video;
}

void write_frames(ModelWriter& writer, const Video& video, std::int64_t first, std::int64_t end) {
  for (std::int64_t j = first; j < end; ++j) {
    const Eigen::VectorXf v = video.V.row(j).transpose();
    writer.append(
        writer.prepare(video.frames[static_cast<std::size_t>(j)], v, video.masks[static_cast<std::size_t>(j)]), v);
  }
}

// Every value of a frame rebuilt from its planes is within one grey level (the halving), exact
// where its difference from the base (the background, or mid-grey in a block that holds foreground)
// is even. A 256x256 frame pairs every level with every background level; the mask marks one pixel
// of block (2, 3) and pixel (255, 255), so blocks (2, 3) and (15, 15) are coded against mid-grey.
TEST(ResidualVideo, PlanesRebuildWithinOneLevel) {
  std::vector<std::uint8_t> frame, background;
  for (int f = 0; f < 256; ++f)
    for (int b = 0; b < 256; ++b)
      frame.push_back(static_cast<std::uint8_t>(f)), background.push_back(static_cast<std::uint8_t>(b));
  std::vector<std::uint8_t> mask(256 * 256 / 8, 0);
  const auto set = [&](int y, int x) {
    mask[static_cast<std::size_t>(y * 256 + x) / 8] |= 0x80 >> ((y * 256 + x) % 8);
  };
  set(40, 60), set(255, 255);
  const std::vector<std::uint8_t> blocks = foreground_blocks(mask, 256, 256);
  ASSERT_EQ(blocks.size(), 32u);
  for (std::size_t b = 0; b < blocks.size(); ++b)
    EXPECT_EQ(blocks[b], b == (2 * 16 + 3) / 8 ? 0x80 >> ((2 * 16 + 3) % 8) : b == 31 ? 0x01 : 0) << b;
  for (const int channels : {1, 3}) {  // colour: the pairs shifted by a third of them in each channel
    std::vector<std::uint8_t> f, b;
    for (std::size_t p = 0; p < frame.size(); ++p)
      for (int c = 0; c < channels; ++c) {
        const std::size_t i = (p + static_cast<std::size_t>(c) * frame.size() / 3) % frame.size();
        f.push_back(frame[i]), b.push_back(background[i]);
      }
    std::vector<std::uint8_t> base = b;
    apply_blocks(base, blocks, 256, channels);
    std::vector<std::uint8_t> rebuilt = base;
    add_residual(rebuilt, residual_planes(f, base, channels), channels);
    for (std::size_t v = 0; v < f.size(); ++v) {
      const std::size_t p = v / static_cast<std::size_t>(channels), block = p / 256 / 16 * 16 + p % 256 / 16;
      const int expected_base = blocks[block / 8] & (0x80 >> (block % 8)) ? 128 : b[v];
      ASSERT_EQ(base[v], expected_base) << "value " << v;
      EXPECT_LE(std::abs(rebuilt[v] - f[v]), (f[v] - expected_base) % 2 ? 1 : 0)
          << "frame " << +f[v] << " base " << expected_base;
    }
  }
}

// libx264 at CRF 0 codes losslessly, so a rebuilt frame errs only by the halving: at most one grey
// level, grey and colour. The PSNR the writer measured is the rebuilt frames' own, and frames read
// out of order (back to the start) are the same.
TEST(ModelFileVersion2, LosslessStreamRebuildsWithinOneLevel) {
  const fs::path path = fs::temp_directory_path() / "cleanplate-model-v2.npz";
  for (const int channels : {1, 3}) {
    const Video video = make_video(channels, 6);  // quality 6: CRF 0
    {
      ModelWriter writer(path, video.header, 1, "ultrafast");
      write_frames(writer, video, 0, video.header.frames);
      writer.finish();
    }
    const ModelFile r = read_model_file(path);
    EXPECT_EQ(r.version, 2);
    EXPECT_EQ(r.frames, 20);
    EXPECT_EQ(r.U, video.header.U);
    EXPECT_EQ(r.V, video.V);
    EXPECT_EQ(r.foreground_blocks[0], 0x80) << "frame 0's square is in block 0 of row 0, and then none";
    EXPECT_EQ(r.foreground_blocks[r.block_bytes()], 0x80);
    const ModelDecoder decoder(r);
    int worst = 0;
    for (std::int64_t j = 0; j < r.frames; ++j) {
      const auto rebuilt = decoder.frame(j);
      for (std::size_t i = 0; i < rebuilt.size(); ++i)
        worst = std::max(worst, std::abs(rebuilt[i] - video.frames[static_cast<std::size_t>(j)][i]));
    }
    EXPECT_EQ(worst, 1) << "channels " << channels;
    EXPECT_DOUBLE_EQ(r.psnr, psnr_of(r, video.frames));
    EXPECT_EQ(decoder.frame(3), ModelDecoder(r).frame(3)) << "back to frame 3 after frame 19";
  }
  fs::remove(path);
}

// A lower quality (higher CRF) gives a smaller file and a lower PSNR.
TEST(ModelFileVersion2, QualityTradesSizeForError) {
  const fs::path folder = fs::temp_directory_path() / "cleanplate-model-v2-quality";
  fs::create_directories(folder);
  std::vector<std::uintmax_t> sizes;
  std::vector<double> decibels;
  for (const std::int64_t quality : {12, 36}) {
    const Video video = make_video(1, quality);
    const fs::path path = folder / ("q" + std::to_string(quality) + ".npz");
    ModelWriter writer(path, video.header, 1, "ultrafast");
    write_frames(writer, video, 0, video.header.frames);
    writer.finish();
    sizes.push_back(fs::file_size(path));
    decibels.push_back(read_model_file(path).psnr);
  }
  EXPECT_LT(sizes[1], sizes[0]);
  EXPECT_LT(decibels[1], decibels[0]);
  fs::remove_all(folder);
}

// Parts (mpirun's ranks) each hold a stream of their own; joined, they play as one.
TEST(ModelFileVersion2, PartsAppendedPlayAsOneStream) {
  const fs::path folder = fs::temp_directory_path() / "cleanplate-model-v2-parts";
  fs::remove_all(folder);
  fs::create_directories(folder);
  const Video video = make_video(1, 6);
  const std::vector<std::pair<std::int64_t, std::int64_t>> ranges{{0, 7}, {7, 20}};
  for (std::size_t part = 0; part < ranges.size(); ++part) {
    ModelWriter writer(folder / ("part" + std::to_string(part) + ".npz"), video.header, 1, "ultrafast");
    write_frames(writer, video, ranges[part].first, ranges[part].second);
    writer.finish_part();
  }
  {
    ModelWriter joined(folder / "joined.npz", video.header, 1, "ultrafast");
    for (std::size_t part = 0; part < ranges.size(); ++part)
      joined.append_part(folder / ("part" + std::to_string(part) + ".npz"));
    joined.finish();
  }
  const ModelFile r = read_model_file(folder / "joined.npz");
  EXPECT_EQ(r.V, video.V);
  EXPECT_DOUBLE_EQ(r.psnr, psnr_of(r, video.frames));
  EXPECT_GE(r.psnr, 10 * std::log10(255.0 * 255.0)) << "every error at most one level";
  fs::remove_all(folder);
}

// Packets that do not rise are refused when read; a damaged stream gives an Error when decoded, or
// frames, never a crash (the fuzzer tries many more).
TEST(ModelFileVersion2, DamagedStreamIsRefused) {
  const fs::path path = fs::temp_directory_path() / "cleanplate-model-v2-damaged.npz";
  const Video video = make_video(1, 23);
  {
    ModelWriter writer(path, video.header, 1, "ultrafast");
    write_frames(writer, video, 0, video.header.frames);
    writer.finish();
  }
  const ModelFile good = read_model_file(path);
  ModelFile m = good;
  std::swap(m.foreground_packets[2], m.foreground_packets[3]);
  write_model_file(path, m);
  try {
    (void)read_model_file(path);
    ADD_FAILURE() << "packets that do not rise were accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("do not rise"), std::string::npos) << error.what();
  }
  m = good;
  for (std::size_t i = m.foreground_video.size() / 3; i < m.foreground_video.size(); i += 7)
    m.foreground_video[i] ^= 0x5a;
  try {
    const ModelDecoder decoder(m);
    for (std::int64_t j = 0; j < m.frames; ++j) EXPECT_EQ(decoder.frame(j).size(), 33u * 25u);
  } catch (const Error&) {
  }
  fs::remove(path);
}

}  // namespace
}  // namespace cleanplate::io
