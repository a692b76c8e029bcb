#include <gtest/gtest.h>

#include <cleanplate/error.hpp>
#include <cleanplate/io/npz.hpp>
#include <cleanplate/stages/background_refit.hpp>
#include <cleanplate/stages/background_subtractor.hpp>
#include <cleanplate/stages/decompose.hpp>
#include <cleanplate/stages/frame_column.hpp>
#include <cleanplate/stages/frame_matrix.hpp>
#include <cleanplate/stages/mask.hpp>
#include <cleanplate/stages/metrics.hpp>
#include <cleanplate/stages/online_background.hpp>
#include <cleanplate/stages/preview.hpp>
#include <cleanplate/stages/robust_background.hpp>
#include <cstdlib>
#include <filesystem>
#include <numbers>
#include <opencv2/imgproc.hpp>
#include <random>

#include "noise_scales.hpp"
#include "reference.hpp"

namespace cleanplate {
namespace {

// Values in [0, 1] as the 8-bit levels a frame holds (clipped).
stages::FrameColumnLevels to_levels(const Eigen::VectorXf& values) {
  return (values.array() * 255).round().max(0.0f).min(255.0f).cast<std::uint8_t>();
}

// Every CDnet label and the ROI, counted by hand: 2x4 frame.
TEST(Metrics, CdnetRulesCountedByHand) {
  const cv::Mat labels = (cv::Mat_<unsigned char>(2, 4) << 255, 255, 0, 50, 85, 170, 255, 0);
  const cv::Mat mask = (cv::Mat_<unsigned char>(2, 4) << 255, 0, 255, 0, 255, 255, 255, 255);
  const cv::Mat roi = (cv::Mat_<unsigned char>(2, 4) << 255, 255, 255, 255, 255, 255, 255, 0);
  stages::ConfusionCounts c;
  c.add(mask, labels, roi);
  // Counted: (0,0) TP, (0,1) FN, (0,2) FP, (0,3) TN (shadow), (1,2) TP; 85, 170 and outside-ROI ignored.
  EXPECT_EQ(c.true_positives, 2);
  EXPECT_EQ(c.false_negatives, 1);
  EXPECT_EQ(c.false_positives, 1);
  EXPECT_EQ(c.true_negatives, 1);
  EXPECT_DOUBLE_EQ(c.recall(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(c.precision(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(c.f_measure(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(c.specificity(), 0.5);
  EXPECT_DOUBLE_EQ(c.percentage_wrong(), 40.0);
}

TEST(FrameColumn, RoundTripsGreyAndColour) {
  cv::Mat frame(6, 8, CV_8UC3);
  cv::randu(frame, 0, 256);
  for (bool color : {false, true}) {
    const stages::ConvertOptions options{.color = color};
    const auto geometry = stages::geometry_for(frame.size(), options);
    Eigen::VectorXf column(geometry.values());
    stages::frame_to_column(frame, geometry, column);
    EXPECT_GE(column.minCoeff(), 0.0f);
    EXPECT_LE(column.maxCoeff(), 1.0f);
    const cv::Mat back = stages::column_to_image(column, geometry);
    EXPECT_EQ(cv::norm(back, stages::convert_frame(frame, geometry), cv::NORM_INF), 0.0);
  }
  EXPECT_THROW(stages::geometry_for({8, 6}, {.scale = 0}), Error);
}

// Summed in chunks of 32-bit integers: across chunk borders, the same as in doubles, and 255s do
// not overflow a chunk.
TEST(FrameMatrix, SquaredNormOfLevelsEqualsThatOfTheirValues) {
  stages::FrameColumnLevels levels(100003);
  std::mt19937 random(5);
  for (auto& level : levels) level = static_cast<std::uint8_t>(random() % 256);
  const double expected = (levels.cast<double>() / 255).squaredNorm();
  EXPECT_NEAR(stages::values_squared_norm(levels), expected, 1e-12 * expected);
  levels.setConstant(255);
  EXPECT_NEAR(stages::values_squared_norm(levels), 100003.0, 1e-9);
}

// Gaussian noise of 3 grey levels, rounded to levels as video is, under outliers spread over
// [-100, 100] levels: a median absolute deviation breaks down past half, the inlier scale does not.
std::vector<float> noise_with_outliers(double outlier_share, std::size_t count = 20000) {
  std::mt19937 random(11);
  std::normal_distribution<float> noise(0, 3);
  std::uniform_real_distribution<float> outlier(-100, 100), share(0, 1);
  std::vector<float> values(count);
  for (auto& v : values) v = std::round(share(random) < outlier_share ? outlier(random) : noise(random)) / 255;
  return values;
}

TEST(Mask, InlierScaleHoldsUnderMostlyOutliers) {
  for (const double share : {0.0, 0.3})
    EXPECT_NEAR(stages::inlier_scale(noise_with_outliers(share)) * 255, 3.0, 0.3) << share;
  // Outliers spread evenly also fall near zero, among the inliers: at 70-80% they add a third.
  for (const double share : {0.7, 0.8})
    EXPECT_NEAR(stages::inlier_scale(noise_with_outliers(share)) * 255, 3.0, 1.5) << share;
  std::vector<float> mostly_outliers = noise_with_outliers(0.7);
  for (auto& v : mostly_outliers) v = std::abs(v - 0.0f);  // the MAD, for contrast: far off at 70%
  std::nth_element(mostly_outliers.begin(), mostly_outliers.begin() + 10000, mostly_outliers.end());
  EXPECT_GT(1.4826 * mostly_outliers[10000] * 255, 30.0);
  EXPECT_NEAR(stages::inlier_scale(std::vector<float>(100, 0.0f)) * 255, 0.5, 1e-6);  // noiseless: half a level
}

// The scales of many rows at once (lanes of a sorting network) are inlier_scale's, exactly: for
// sample counts that are and are not powers of two, and row counts that do not fill the lanes.
TEST(Mask, InlierScalesOfRowsEqualInlierScaleOfEach) {
  for (const Eigen::Index samples : {1, 7, 100, 128}) {
    const Eigen::Index rows = 37;
    Eigen::MatrixXf values(rows, samples);
    for (Eigen::Index r = 0; r < rows; ++r) {
      const std::vector<float> row =
          noise_with_outliers(0.1 * static_cast<double>(r % 8), static_cast<std::size_t>(samples));
      for (Eigen::Index i = 0; i < samples; ++i) values(r, i) = row[static_cast<std::size_t>((i + r) % samples)];
    }
    const Eigen::VectorXd scales = stages::inlier_scales(values);
    ASSERT_EQ(scales.size(), rows);
    for (Eigen::Index r = 0; r < rows; ++r) {
      const Eigen::VectorXf row = values.row(r).transpose();
      EXPECT_EQ(scales[r], stages::inlier_scale({row.data(), row.data() + row.size()}))
          << samples << " samples, row " << r;
    }
  }
}

// frame_mask against its definition, make_mask of the residual magnitude, in grey and colour at
// rank 2: the block-wise comparisons may round the background differently from one product over
// the frame, so one pixel in 1,000 may differ.
TEST(Mask, FrameMaskIsTheMaskOfTheResidual) {
  for (const int channels : {1, 3}) {
    const stages::FrameGeometry geometry{.width = 97, .height = 83, .channels = channels};  // blocks end mid-row
    std::mt19937 random(5);
    std::uniform_real_distribution<float> uniform(0.2f, 0.5f);
    const Eigen::MatrixXf factor = Eigen::MatrixXf::NullaryExpr(geometry.values(), 2, [&] { return uniform(random); });
    const Eigen::Vector2f coordinates(1.1f, 0.3f);
    Eigen::VectorXf frame = factor * coordinates;
    std::normal_distribution<float> noise(0, 0.01f);
    for (Eigen::Index i = 0; i < frame.size(); ++i) frame[i] += noise(random);
    for (int y = 20; y < 50; ++y)
      for (int x = 30; x < 70; ++x) frame[(y * geometry.width + x) * channels] += 0.2f;  // an object
    const stages::FrameColumnLevels levels = to_levels(frame);
    const cv::Mat seed(geometry.height, geometry.width, CV_32F, cv::Scalar(0.04));
    const cv::Mat expected = stages::make_mask(
        stages::residual_magnitude(stages::frame_values(levels) - factor * coordinates, geometry), seed, {});
    const cv::Mat mask = stages::frame_mask(levels, factor, coordinates, seed, geometry, {});
    EXPECT_GT(cv::countNonZero(expected), 1000) << channels;
    EXPECT_LE(cv::countNonZero(mask != expected), static_cast<int>(geometry.pixels() / 1000)) << channels;
    EXPECT_THROW(stages::frame_mask(levels.head(10), factor, coordinates, seed, geometry, {}), Error);
  }
}

// A textured background with a cast shadow (its light x 0.6), an object of another texture, a
// brighter patch and, in colour, a patch whose red alone is dimmed: only the shadow is labelled 127.
TEST(Mask, ShadowsAreTheBackgroundDimmedWithItsColourAndTexture) {
  for (const int channels : {1, 3}) {
    const stages::FrameGeometry geometry{.width = 120, .height = 90, .channels = channels};
    std::mt19937 random(11);
    std::uniform_real_distribution<float> texture(0.3f, 0.8f);
    const Eigen::VectorXf background = Eigen::VectorXf::NullaryExpr(geometry.values(), [&] { return texture(random); });
    Eigen::VectorXf frame = background;
    const cv::Rect shadow(10, 10, 40, 30), object(70, 10, 40, 30), brighter(10, 50, 40, 30), tinted(70, 50, 40, 30);
    const auto each_value = [&](const cv::Rect& r, const auto& change) {
      for (int y = r.y; y < r.y + r.height; ++y)
        for (int x = r.x; x < r.x + r.width; ++x)
          for (int c = 0; c < channels; ++c) {
            const Eigen::Index i = (Eigen::Index{y} * geometry.width + x) * channels + c;
            frame[i] = change(frame[i], c);
          }
    };
    each_value(shadow, [](float v, int) { return 0.6f * v; });
    each_value(object, [&](float, int) { return 0.6f * texture(random); });
    each_value(brighter, [](float v, int) { return 1.2f * v; });
    if (channels == 3) each_value(tinted, [](float v, int c) { return c == 2 ? 0.6f * v : v; });
    std::normal_distribution<float> noise(0, 1.0f / 255);
    for (Eigen::Index i = 0; i < frame.size(); ++i) frame[i] += noise(random);
    const stages::FrameColumnLevels levels = to_levels(frame);
    const cv::Mat seed(geometry.height, geometry.width, CV_32F, cv::Scalar(6.0 / 255));
    const Eigen::VectorXf one = Eigen::VectorXf::Ones(1);
    const cv::Mat plain = stages::frame_mask(levels, background, one, seed, geometry, {.shadows = false});
    const cv::Mat marked = stages::frame_mask(levels, background, one, seed, geometry, {});
    EXPECT_EQ(cv::countNonZero((marked != plain) & (marked != 127)), 0) << "only foreground pixels are relabelled";
    const auto share = [](const cv::Mat& part) { return cv::countNonZero(part) / static_cast<double>(part.total()); };
    EXPECT_GE(share(plain(shadow) == 255), 0.99) << channels;  // the opening takes the corners
    EXPECT_GE(share(marked(shadow) == 127), 0.98) << channels;
    for (const cv::Rect& changed : {object, brighter, tinted}) EXPECT_EQ(share(marked(changed) == 127), 0) << channels;
  }
}

TEST(Mask, ThresholdFindsTheObject) {
  cv::Mat magnitude = cv::Mat::zeros(20, 20, CV_32F);
  magnitude(cv::Rect(5, 5, 6, 6)) = 0.5f;
  magnitude.at<float>(0, 19) = 0.5f;  // a speck: removed by the opening
  stages::NoiseModel noise{0.01, cv::Mat(20, 20, CV_32F, cv::Scalar(0.01))};
  const cv::Mat mask = stages::make_mask(magnitude, stages::seed_threshold({}, noise), {});
  EXPECT_EQ(mask.at<unsigned char>(8, 8), 255);
  EXPECT_EQ(mask.at<unsigned char>(0, 19), 0);
}

TEST(Mask, HysteresisKeepsFaintPartsConnectedToASeed) {
  cv::Mat magnitude = cv::Mat::zeros(30, 30, CV_32F);
  magnitude(cv::Rect(2, 2, 12, 8)) = 0.04f;   // faint body: above half the seed level only
  magnitude(cv::Rect(4, 4, 3, 3)) = 0.5f;     // its seed
  magnitude(cv::Rect(18, 18, 8, 8)) = 0.04f;  // faint and alone: not foreground
  const cv::Mat seed(30, 30, CV_32F, cv::Scalar(0.06));
  const cv::Mat mask = stages::make_mask(magnitude, seed, {.open = 0, .close = 0});
  EXPECT_EQ(cv::countNonZero(mask(cv::Rect(2, 2, 12, 8))), 12 * 8);
  EXPECT_EQ(cv::countNonZero(mask(cv::Rect(18, 18, 8, 8))), 0);
  EXPECT_EQ(cv::countNonZero(stages::make_mask(magnitude, seed, {.hysteresis = 1, .open = 0, .close = 0})), 9);
}

// The reconstruction against the definition: every 8-connected region of seeds or `grow` that holds
// a seed (a few seeds lie outside `grow`, which make_mask never passes but a caller may).
TEST(Mask, GrowMaskKeepsExactlyTheSeededRegions) {
  cv::RNG random(7);
  for (const cv::Size size :
       {cv::Size(1, 1), cv::Size(9, 1), cv::Size(1, 13), cv::Size(37, 23), cv::Size(160, 90), cv::Size(203, 67)}) {
    cv::Mat values(size, CV_32F);
    random.fill(values, cv::RNG::UNIFORM, 0, 1);
    const cv::Mat grow = values > 0.45, seeds = (values > 0.97) | (values < 0.01), either = grow | seeds;
    cv::Mat labels;
    const int count = cv::connectedComponents(either, labels, 8, CV_32S);
    std::vector<bool> seeded(static_cast<std::size_t>(count), false);
    for (int p = 0; p < static_cast<int>(grow.total()); ++p)
      if (seeds.data[p]) seeded[static_cast<std::size_t>(labels.ptr<int>()[p])] = true;
    cv::Mat expected = cv::Mat::zeros(size, CV_8U);
    for (int p = 0; p < static_cast<int>(grow.total()); ++p)
      if (either.data[p] && seeded[static_cast<std::size_t>(labels.ptr<int>()[p])]) expected.data[p] = 255;
    const cv::Mat mask = stages::grow_mask(seeds.clone(), grow, {.open = 0, .close = 0});
    EXPECT_EQ(cv::countNonZero(mask != expected), 0) << size;
    if (size.area() > 1000) {
      EXPECT_GT(cv::countNonZero(mask), 2 * cv::countNonZero(seeds)) << "nothing grew";
    }
  }
}

// The opening and closing (a pass of our own for the 3 x 3 kernels) against OpenCV's morphologyEx,
// on random masks whose specks and holes each kernel changes, at the frame's edges too.
TEST(Mask, GrowMaskOpensAndClosesAsOpenCV) {
  cv::RNG random(11);
  for (const cv::Size size : {cv::Size(1, 1), cv::Size(2, 1), cv::Size(1, 5), cv::Size(2, 2), cv::Size(9, 4),
                              cv::Size(37, 23), cv::Size(203, 67)})
    for (const int open : {0, 3, 5})
      for (const int close : {0, 1, 3}) {
        cv::Mat values(size, CV_32F);
        random.fill(values, cv::RNG::UNIFORM, 0, 1);
        const cv::Mat seeds = values > 0.4;
        cv::Mat expected = seeds.clone();
        const auto kernel = [](int side) { return cv::getStructuringElement(cv::MORPH_ELLIPSE, {side, side}); };
        if (open > 1) cv::morphologyEx(expected, expected, cv::MORPH_OPEN, kernel(open));
        if (close > 1) cv::morphologyEx(expected, expected, cv::MORPH_CLOSE, kernel(close));
        const cv::Mat mask = stages::grow_mask(seeds.clone(), cv::Mat(), {.open = open, .close = close});
        EXPECT_EQ(cv::countNonZero(mask != expected), 0) << size << " open " << open << " close " << close;
        if (size.area() > 1000 && (open > 1 || close > 1)) {
          EXPECT_GT(cv::countNonZero(mask != seeds), size.area() / 20) << "the kernels changed little";
        }
      }
}

TEST(Mask, NoiseLevelsArePerPixelWithTheFrameWideFloor) {
  const stages::FrameGeometry geometry{4, 3, 1};
  const std::vector<float> noise_values = noise_with_outliers(0, 12 * 128);  // 3 grey levels
  Eigen::MatrixXf residuals = Eigen::Map<const Eigen::MatrixXf>(noise_values.data(), 12, 128);
  const std::vector<float> branch = noise_with_outliers(1, 128);  // a swaying branch: values spread over +-100 levels
  residuals.row(5) = Eigen::Map<const Eigen::RowVectorXf>(branch.data(), 128);
  for (Eigen::Index s = 0; s < 90; ++s)
    residuals(6, s) = 0.5f + 0.002f * static_cast<float>(s);  // foreground 70% of the time
  const stages::NoiseModel noise = stages::estimate_noise(residuals, geometry);
  const auto scale_of = [](const Eigen::VectorXf& v) { return stages::inlier_scale({v.data(), v.data() + v.size()}); };
  EXPECT_NEAR(noise.pixel_sigma.at<float>(1, 1), scale_of(residuals.row(5).transpose()),
              1e-6);  // pixel 5: row 1, column 1
  EXPECT_GT(noise.pixel_sigma.at<float>(1, 1), 10 * noise.global_sigma);
  EXPECT_LT(noise.pixel_sigma.at<float>(1, 2), 2 * noise.global_sigma);  // pixel 6 keeps its background's level
  for (int p : {0, 4, 11}) EXPECT_GE(noise.pixel_sigma.at<float>(p / 4, p % 4), static_cast<float>(noise.global_sigma));
  const cv::Mat seed = stages::seed_threshold({}, noise);
  EXPECT_NEAR(seed.at<float>(1, 1), 6 * noise.pixel_sigma.at<float>(1, 1), 1e-5);
  EXPECT_NEAR(stages::seed_threshold({.threshold = 0.1}, noise).at<float>(1, 1), 0.1, 1e-7);
  EXPECT_THROW(stages::estimate_noise(residuals.topRows(5), geometry), Error);
}

TEST(Mask, NoiseLevelsOfFramesAroundABackgroundEqualThoseOfTheirResiduals) {
  const stages::FrameGeometry geometry{37, 29, 3};  // rows not a multiple of the 16 lanes
  std::mt19937 random(7);
  std::uniform_int_distribution<int> level(0, 255);
  std::normal_distribution<float> noise(0, 3);
  Eigen::VectorXf background(geometry.values());
  for (auto& b : background) b = static_cast<float>(level(random)) / 255;
  stages::FrameLevels frames(geometry.values(), 25);
  for (Eigen::Index j = 0; j < frames.cols(); ++j)
    for (Eigen::Index i = 0; i < frames.rows(); ++i)
      frames(i, j) = static_cast<std::uint8_t>(
          std::clamp(std::lround(background[i] * 255 + noise(random) + (i % 11 == j % 11 ? 90 : 0)), 0L, 255L));
  const Eigen::MatrixXf residuals = stages::frame_values(frames).colwise() - background;
  const stages::NoiseModel expected = stages::estimate_noise(residuals, geometry);
  const stages::NoiseModel levels = stages::estimate_noise(frames, background, geometry);
  EXPECT_EQ(levels.global_sigma, expected.global_sigma);
  EXPECT_EQ(cv::countNonZero(levels.pixel_sigma != expected.pixel_sigma), 0);
  EXPECT_NEAR(expected.global_sigma * 255, 3, 0.3);
  EXPECT_THROW(stages::estimate_noise(frames, background.head(10), geometry), Error);
}

// Each frame against its own rank-2 background (a light level times the background plus a ramp):
// the levels equal those of the residual columns of 12 evenly spaced frames, made in full.
TEST(Mask, NoiseLevelsOfFramesAroundALowRankBackgroundEqualThoseOfTheirResiduals) {
  const stages::FrameGeometry geometry{37, 29, 1};
  std::mt19937 random(11);
  std::uniform_real_distribution<float> uniform(0.2f, 0.6f);
  std::normal_distribution<float> noise(0, 2);
  Eigen::MatrixXf basis(geometry.values(), 2);
  for (Eigen::Index i = 0; i < basis.rows(); ++i) basis(i, 0) = uniform(random), basis(i, 1) = 0.001f * (i % 37);
  Eigen::MatrixXf weights(2, 40);
  stages::FrameLevels frames(geometry.values(), weights.cols());
  for (Eigen::Index j = 0; j < frames.cols(); ++j) {
    weights.col(j) << 0.8f + 0.01f * j, static_cast<float>(j % 5);
    const Eigen::VectorXf background = basis * weights.col(j);
    for (Eigen::Index i = 0; i < frames.rows(); ++i)
      frames(i, j) = static_cast<std::uint8_t>(std::clamp(std::lround(background[i] * 255 + noise(random)), 0L, 255L));
  }
  const std::vector<Eigen::Index> picked = stages::evenly_spaced_frames(frames.cols(), 12);
  Eigen::MatrixXf residuals(frames.rows(), 12);
  for (std::size_t s = 0; s < picked.size(); ++s)
    residuals.col(static_cast<Eigen::Index>(s)) =
        stages::frame_values(frames.col(picked[s])) - basis * weights.col(picked[s]);
  const stages::NoiseModel expected = stages::estimate_noise(residuals, geometry);
  const stages::NoiseModel levels = stages::estimate_noise(frames, basis, weights, geometry, 12);
  EXPECT_EQ(levels.global_sigma, expected.global_sigma);
  EXPECT_EQ(cv::countNonZero(levels.pixel_sigma != expected.pixel_sigma), 0);
  EXPECT_NEAR(expected.global_sigma * 255, 2, 0.3);
  EXPECT_THROW(stages::estimate_noise(frames, basis, weights.leftCols(10), geometry), Error);
}

// A textured background under a slow gain change (rank 1), Gaussian noise of 2 grey levels, values
// rounded to levels, and foreground of random grey levels where `covered(frame, x, y)` says.
struct Scene {
  stages::FrameGeometry geometry{.width = 40, .height = 30, .channels = 1};
  stages::FrameLevels frames;  // 8-bit levels, as the frame matrix holds them
  Eigen::MatrixXf background;  // in [0, 1]
};
template <typename Covered, typename Gain>
Scene make_scene(Eigen::Index frames, Covered covered, Gain gain, float noise_level = 2) {
  Scene scene;
  const Eigen::Index pixels = scene.geometry.pixels();
  std::mt19937 random(5);
  std::uniform_real_distribution<float> texture(60, 200), foreground(0, 255);
  std::normal_distribution<float> noise(0, noise_level);
  Eigen::VectorXf plate(pixels);
  for (auto& v : plate) v = texture(random);
  scene.frames.resize(pixels, frames);
  scene.background.resize(pixels, frames);
  for (Eigen::Index j = 0; j < frames; ++j) {
    scene.background.col(j) = plate * gain(j) / 255;
    for (Eigen::Index p = 0; p < pixels; ++p) {
      const float value =
          covered(j, p % 40, p / 40) ? foreground(random) : 255 * scene.background(p, j) + noise(random);
      scene.frames(p, j) = static_cast<std::uint8_t>(std::clamp(std::round(value), 0.0f, 255.0f));
    }
  }
  return scene;
}

template <typename Covered>
Scene make_scene(Eigen::Index frames, Covered covered) {
  return make_scene(frames, covered,
                    [](Eigen::Index j) { return 1 + 0.03f * std::sin(0.05f * static_cast<float>(j)); });
}

// Largest error of the fitted background against the truth, in grey levels, over all frames.
double largest_error(const stages::BackgroundModel& model, const Scene& scene) {
  double error = 0;
  for (Eigen::Index j = 0; j < scene.frames.cols(); ++j)
    error = std::max<double>(error, (model.background(j) - scene.background.col(j)).cwiseAbs().maxCoeff());
  return 255 * error;
}

// An object over the same 12x12 pixels in 70% of the frames, different each time (a lecturer
// moving in front of a board): least squares and a median follow it, the robust fit does not.
// mode_background against the rule written out for one value at a time: a histogram of its levels,
// the first window of `window` levels holding the most, the mean level inside it. Random values
// crowd the ends of the range (windows clipped at 0 and 255) and tie often; with and without gains.
TEST(RobustBackground, ModeIsTheMeanOfTheFirstDensestWindow) {
  std::mt19937 random(17);
  std::uniform_int_distribution<int> level(0, 255), near_end(0, 4), pick(0, 3);
  const Eigen::Index rows = 1000, frames_count = 9;
  stages::FrameLevels frames(rows, frames_count);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < frames_count; ++j) {
      const int kind = pick(random);
      frames(i, j) = static_cast<std::uint8_t>(kind == 0   ? near_end(random)
                                               : kind == 1 ? 255 - near_end(random)
                                                           : level(random));
    }
  Eigen::VectorXf gains = Eigen::VectorXf::Ones(frames_count);
  gains[2] = 1.1f, gains[5] = 0.8f;
  for (const Eigen::VectorXf& frame_gains : {Eigen::VectorXf(), gains})
    for (int window : {1, 3, 7, 21}) {
      SCOPED_TRACE(testing::Message() << "window " << window << ", gains " << frame_gains.size());
      const stages::Mode mode = stages::mode_background(frames, window, 1024, frame_gains);
      const int half = window / 2;
      long inside = 0;
      for (Eigen::Index i = 0; i < rows; ++i) {
        std::array<int, 256> histogram{};
        for (Eigen::Index j = 0; j < frames_count; ++j) {
          const float value = frame_gains.size() ? frames(i, j) / frame_gains[j] : frames(i, j);
          ++histogram[static_cast<std::size_t>(std::min(static_cast<int>(value + 0.5f), 255))];
        }
        int best = -1, best_level = 0;
        for (int centre = 0; centre < 256; ++centre) {
          int count = 0;
          for (int l = std::max(0, centre - half); l <= std::min(255, centre + half); ++l) count += histogram[l];
          if (count > best) best = count, best_level = centre;
        }
        double weighted = 0;
        for (int l = std::max(0, best_level - half); l <= std::min(255, best_level + half); ++l)
          weighted += static_cast<double>(l) * histogram[l];
        ASSERT_FLOAT_EQ(mode.levels[i], static_cast<float>(weighted / best / 255)) << "value " << i;
        inside += best;
      }
      EXPECT_DOUBLE_EQ(mode.support, static_cast<double>(inside) / (rows * frames_count));
    }
}

// Frames of 640x480 values take the second mode's window from a sample of the values: the same
// window, and so the same mode, as from all of them (noise of 2 grey levels, a bright object in a
// third of the frames, a gradient across the frame).
TEST(RobustBackground, LargeFramesTakeTheModeWindowFromASample) {
  constexpr Eigen::Index values = 640 * 480, frames_count = 30;
  std::mt19937 random(11);
  std::normal_distribution<float> noise(0, 2);
  stages::FrameLevels frames(values, frames_count);
  for (Eigen::Index j = 0; j < frames_count; ++j)
    for (Eigen::Index i = 0; i < values; ++i) {
      const bool object = j % 3 == 0 && i % 640 < 200;
      const float level = object ? 230 : 40 + 150.0f * static_cast<float>(i) / values + noise(random);
      frames(i, j) = static_cast<std::uint8_t>(std::clamp(std::lround(level), 0L, 255L));
    }
  const double first_scale = stages::residual_scale(frames, stages::mode_background(frames, 3).levels);
  const int window = 2 * std::max(1, static_cast<int>(std::lrint(first_scale * 255))) + 1;
  EXPECT_EQ(window, 5);  // +-2 levels
  const Eigen::VectorXf expected = stages::mode_background(frames, window).levels;
  EXPECT_EQ((stages::background_mode(frames) - expected).cwiseAbs().maxCoeff(), 0);
}

// Frames of 640x480 values take the start's frame side and each frame's coordinates from a sample of
// the values, the rows from every value: a rank-2 background (a texture whose gain drifts by 5%, a
// gradient of up to 16 grey levels whose strength swings) under random foreground over a third of
// the columns in a third of the frames is found to the noise. A value's row fitted on its n >= 26
// inlier frames carries sigma sqrt(k / n) = 0.55 grey levels; least squares is pulled far beyond.
TEST(RobustBackground, LargeFramesFitFromASampleOfTheValues) {
  constexpr Eigen::Index width = 640, values = width * 480, frames_count = 40;
  std::mt19937 random(17);
  std::uniform_real_distribution<float> texture(60, 160), foreground(0, 255);
  std::normal_distribution<float> noise(0, 2);
  Eigen::VectorXf plate(values), gradient(values);
  for (Eigen::Index i = 0; i < values; ++i)
    plate[i] = texture(random), gradient[i] = 16.0f * static_cast<float>(i % width) / width;
  Eigen::MatrixXf background(values, frames_count);
  stages::FrameLevels frames(values, frames_count);
  for (Eigen::Index j = 0; j < frames_count; ++j) {
    const float t = static_cast<float>(j);
    background.col(j) = (plate * (1 + 0.05f * std::sin(0.3f * t)) + gradient * std::cos(0.2f * t)) / 255;
    for (Eigen::Index i = 0; i < values; ++i) {
      const bool object = j % 3 == 0 && i % width < width / 3;
      const float level = object ? foreground(random) : 255 * background(i, j) + noise(random);
      frames(i, j) = static_cast<std::uint8_t>(std::clamp(std::lround(level), 0L, 255L));
    }
  }
  const auto rms_error = [&](const stages::BackgroundModel& model) {
    double sum = 0;
    for (Eigen::Index j = 0; j < frames_count; ++j) sum += (model.background(j) - background.col(j)).squaredNorm();
    return 255 * std::sqrt(sum / static_cast<double>(values * frames_count));
  };
  EXPECT_LT(rms_error(stages::robust_background(frames, {.rank = 2})), 1.0);
  EXPECT_GT(rms_error(stages::decompose(frames, {.method = stages::Method::svd, .rank = 2})), 10.0);
}

TEST(RobustBackground, HoldsUnderAnObjectPresentInMostFrames) {
  const Scene scene = make_scene(100, [](Eigen::Index j, Eigen::Index x, Eigen::Index y) {
    return j % 10 < 7 && x >= 10 && x < 22 && y >= 8 && y < 20;
  });
  const auto robust = stages::robust_background(scene.frames, {.rank = 1});
  EXPECT_LT(largest_error(robust, scene), 3.0);
  EXPECT_GT(largest_error(stages::decompose(scene.frames, {.method = stages::Method::svd}), scene), 20.0);
  const Eigen::VectorXf mode = stages::mode_background(scene.frames, 5).levels;
  EXPECT_LT(255 * (mode - scene.background.rowwise().mean()).cwiseAbs().maxCoeff(),
            12.0);  // the start, before the gain is fitted
}

// Light at a few levels: 11 levels +-6% apart, each in 5 identical frames, as an evenly spaced
// sample of a looped video takes them. Each frame's gain is found (up to a common factor) although
// an object covers a fifth of some frames, and the fit holds. (The end-to-end case where the gains
// are needed is SyntheticScene.SampleWithLightAtAFewLevels.)
TEST(RobustBackground, FrameGainsFollowLightAtAFewLevels) {
  const auto gain = [](Eigen::Index j) {
    return 1 + 0.06f * std::sin(2 * std::numbers::pi_v<float> * (static_cast<float>(j) + 0.5f) / 11);
  };
  Scene scene = make_scene(
      11, [](Eigen::Index j, Eigen::Index x, Eigen::Index) { return j % 4 == 0 && x >= 12 && x < 20; }, gain, 0.6f);
  scene.frames = scene.frames.replicate(1, 5).eval();
  scene.background = scene.background.replicate(1, 5).eval();
  EXPECT_LT(largest_error(stages::robust_background(scene.frames, {.rank = 1}), scene), 3.0);
  const Eigen::VectorXf gains = stages::frame_gains(scene.frames);
  for (Eigen::Index j = 0; j < 55; ++j)  // up to a common factor: the ratio to frame 0's
    EXPECT_NEAR(gains[j] / gains[0], gain(j % 11) / gain(0), 0.005) << j;
}

// Textured motion over most of the frame in most frames (leaves across the lens): random
// rectangles cover about 70% of the pixels in each frame.
TEST(RobustBackground, HoldsUnderTexturedMotionOverMostOfTheFrame) {
  std::mt19937 random(3);
  std::uniform_int_distribution<int> corner(-20, 39);
  std::vector<cv::Rect> leaves;
  for (int j = 0; j < 150; ++j) leaves.emplace_back(corner(random), corner(random) * 3 / 4, 34, 26);
  const Scene scene = make_scene(150, [&](Eigen::Index j, Eigen::Index x, Eigen::Index y) {
    return leaves[static_cast<std::size_t>(j)].contains({static_cast<int>(x), static_cast<int>(y)});
  });
  EXPECT_LT(largest_error(stages::robust_background(scene.frames, {.rank = 1}), scene), 3.0);
}

// A rank-2 background (a gain and a gradient that change over time) with a bright block sliding
// along the top rows: the least-squares SVD is pulled toward it, in the pixels it crosses and in
// the frames it is in. One round of the masked refit starts from the pulled frame factors, so it
// is not exact, but it must remove nearly all of the pull, and the clean plate with it.
// A frame of `values` on a random rank-2 factor at coordinates (0.9, 0.4), with noise of one grey
// level and an object that moves the first 40% of its values by `object`.
struct FactorFrame {
  Eigen::MatrixXf factor;
  Eigen::Vector2f truth{0.9f, 0.4f};
  Eigen::VectorXf frame;
};
FactorFrame factor_frame(Eigen::Index values, float object, unsigned seed) {
  std::mt19937 random(seed);
  FactorFrame f;
  f.factor = Eigen::MatrixXf::NullaryExpr(values, 2,
                                          [&] { return std::uniform_real_distribution<float>(0.2f, 0.6f)(random); });
  f.frame = f.factor * f.truth;
  std::normal_distribution<float> noise(0, 0.004f);
  for (Eigen::Index i = 0; i < values; ++i) f.frame[i] += noise(random);
  f.frame.head(values * 2 / 5).array() += object;
  return f;
}

// A frame that was not in the model's matrix: its coordinates on a fixed rank-2 factor, fitted
// over the values within the band, are the true ones although an object covers 40% of the frame,
// where plain least squares is pulled far off.
TEST(RobustBackground, FitFrameIgnoresAnObjectOverMuchOfTheFrame) {
  const auto [factor, truth, frame] = factor_frame(5000, 0.3f, 11);
  const stages::FrameColumnLevels levels = to_levels(frame);
  const Eigen::VectorXf fitted = stages::fit_frame(factor, levels, 0.012f, Eigen::Vector2f(1.0f, 0.5f), 1);
  const Eigen::VectorXf least_squares = (factor.transpose() * factor).ldlt().solve(factor.transpose() * frame);
  EXPECT_LT((fitted - truth).cwiseAbs().maxCoeff(), 0.01f) << fitted.transpose();
  EXPECT_GT((least_squares - truth).cwiseAbs().maxCoeff(), 0.1f) << least_squares.transpose();
  EXPECT_THROW(stages::fit_frame(factor, levels.head(10), 0.01f, truth), Error);
}

// A frame of 2^20 values is fitted on a sample of its blocks: still the true coordinates, to the
// noise over the sample (sigma / 256), with the object over the first 40% of the values.
TEST(RobustBackground, FitFrameOfALargeFrameFromASampleOfBlocks) {
  const auto [factor, truth, frame] = factor_frame(1 << 20, -0.2f, 12);
  const Eigen::VectorXf fitted = stages::fit_frame(factor, to_levels(frame), 0.012f, Eigen::Vector2f(1.0f, 0.5f), 1);
  EXPECT_LT((fitted - truth).cwiseAbs().maxCoeff(), 2e-3f) << fitted.transpose();
}

// A frame of 2^20 pixels is refitted on a sample of its blocks: the coordinates over the background
// (the mask covers the object on the first 40% of the pixels) are the true ones to the noise over
// the sample, sigma / 256, where the object would pull a fit over every pixel far off.
TEST(BackgroundRefit, FrameFactorOfALargeFrameFromASampleOfBlocks) {
  const stages::FrameGeometry geometry{.width = 1024, .height = 1024, .channels = 1};
  const auto [factor, truth, frame] = factor_frame(geometry.values(), -0.2f, 13);
  const linalg::SvdResult<float> model = linalg::truncated_svd(factor, 2);  // only its shape counts here
  const stages::BackgroundRefit refit(geometry, model);
  cv::Mat mask = cv::Mat::zeros(geometry.height, geometry.width, CV_8U);
  mask.reshape(1, 1).colRange(0, static_cast<int>(geometry.pixels() * 2 / 5)).setTo(255);
  const Eigen::VectorXd fitted =
      refit.frame_factor(factor, to_levels(frame), stages::pack_mask(mask), Eigen::Vector2d(1.0, 0.5));
  EXPECT_LT((fitted.cast<float>() - truth).cwiseAbs().maxCoeff(), 2e-3f) << fitted.transpose();
  const Eigen::VectorXd unmasked = refit.frame_factor(
      factor, to_levels(frame), stages::pack_mask(cv::Mat::zeros(mask.size(), CV_8U)), Eigen::Vector2d(1.0, 0.5));
  EXPECT_GT((unmasked.cast<float>() - truth).cwiseAbs().maxCoeff(), 0.05f) << unmasked.transpose();
}

// The split hands the refit its mask as made (a byte a pixel), the fit of the sample packed: the same
// weights, so the same coordinates to the last bit, in grey and in colour.
TEST(BackgroundRefit, FrameFactorTakesTheMaskPackedOrAsMade) {
  for (const int channels : {1, 3}) {
    const stages::FrameGeometry geometry{.width = 96, .height = 40, .channels = channels};
    std::mt19937 random(21);
    std::uniform_real_distribution<float> uniform(0.1f, 0.9f);
    const Eigen::MatrixXf factor = Eigen::MatrixXf::NullaryExpr(geometry.values(), 2, [&] { return uniform(random); });
    const Eigen::VectorXf frame = Eigen::VectorXf::NullaryExpr(geometry.values(), [&] { return uniform(random); });
    cv::Mat mask(geometry.height, geometry.width, CV_8U);
    cv::randu(mask, 0, 2);
    mask *= 255;
    const linalg::SvdResult<float> model = linalg::truncated_svd(factor, 2);
    const stages::BackgroundRefit refit(geometry, model);
    const Eigen::VectorXd packed =
        refit.frame_factor(factor, to_levels(frame), stages::pack_mask(mask), Eigen::Vector2d(1.0, 0.5));
    const Eigen::VectorXd as_made = refit.frame_factor(factor, to_levels(frame), mask, Eigen::Vector2d(1.0, 0.5));
    EXPECT_TRUE(packed == as_made) << channels << " channels: " << packed.transpose() << " / " << as_made.transpose();
    EXPECT_FALSE(packed.isApprox(Eigen::Vector2d(1.0, 0.5))) << "the refit moved from its start";
    EXPECT_THROW(refit.frame_factor(factor, to_levels(frame), mask.rowRange(0, 20), Eigen::Vector2d(1.0, 0.5)), Error);
  }
}

TEST(BackgroundRefit, RecoversTheBackgroundUnderMaskedObjects) {
  const stages::FrameGeometry geometry{.width = 16, .height = 12, .channels = 1};
  const Eigen::Index pixels = geometry.pixels(), frames = 60;
  std::mt19937 random(7);
  std::uniform_real_distribution<float> uniform(0.2f, 0.6f);
  Eigen::MatrixXf spatial(pixels, 2), temporal(frames, 2);
  for (Eigen::Index p = 0; p < pixels; ++p) spatial.row(p) << uniform(random), static_cast<float>(p % 16) / 80;
  for (Eigen::Index j = 0; j < frames; ++j)
    temporal.row(j) << 1 + 0.1f * std::sin(0.2f * static_cast<float>(j)), static_cast<float>(j) / frames;
  const Eigen::MatrixXf background = spatial * temporal.transpose();
  Eigen::MatrixXf video = background;
  std::vector<std::vector<std::uint8_t>> masks;
  for (Eigen::Index j = 0; j < frames; ++j) {
    cv::Mat mask = cv::Mat::zeros(geometry.height, geometry.width, CV_8U);
    const int x = static_cast<int>(j % 12);
    mask(cv::Rect(x, 2, 4, 4)).setTo(255);
    for (int y = 2; y < 6; ++y)
      for (int dx = 0; dx < 4; ++dx) video(y * geometry.width + x + dx, j) = 1.0f;
    masks.push_back(stages::pack_mask(mask));
  }
  const auto model = linalg::truncated_svd(video, 2);
  stages::BackgroundRefit refit(geometry, model);
  const stages::FrameLevels levels = (video.array() * 255).round().cast<std::uint8_t>();  // as the matrix holds them
  std::vector<std::uint8_t> all_masks;
  for (const auto& mask : masks) all_masks.insert(all_masks.end(), mask.begin(), mask.end());
  refit.add(levels, all_masks);
  EXPECT_THROW(refit.add(levels, std::span(all_masks).first(all_masks.size() - 1)), Error);
  const Eigen::MatrixXd pixel_factor = refit.pixel_factor();
  Eigen::MatrixXd frame_factor(frames, 2);
  for (Eigen::Index j = 0; j < frames; ++j)
    frame_factor.row(j) =
        refit
            .frame_factor(pixel_factor.cast<float>(), levels.col(j), masks[static_cast<std::size_t>(j)],
                          model.V.row(j).transpose().cast<double>())
            .transpose();
  const auto result = stages::to_svd(pixel_factor, frame_factor);

  const double pulled = (linalg::reconstruct(model) - background).cwiseAbs().maxCoeff();
  const double error = (linalg::reconstruct(result) - background).cwiseAbs().maxCoeff();
  EXPECT_GT(pulled, 0.5);  // the block is 0.4 to 0.8 brighter than the background
  EXPECT_LT(error, pulled / 20);
  EXPECT_TRUE((result.U.transpose() * result.U).isIdentity(1e-4));
  EXPECT_TRUE((result.V.transpose() * result.V).isIdentity(1e-4));
  const Eigen::VectorXf mean = background.rowwise().mean();
  const double plate_error = (stages::mean_background(result) - mean).cwiseAbs().maxCoeff();
  EXPECT_LT(plate_error, (stages::mean_background(model) - mean).cwiseAbs().maxCoeff() / 20);
  EXPECT_LT(plate_error, 0.01);
}

// A background whose every value is drawn from [0.3, 0.7]: texture down to the single pixel.
Eigen::VectorXf textured_scene(const stages::FrameGeometry& geometry, std::mt19937& random) {
  std::uniform_real_distribution<float> texture(0.3f, 0.7f);
  Eigen::VectorXf scene(geometry.values());
  for (auto& v : scene) v = texture(random);
  return scene;
}

// A noisy static scene (sigma 2 grey levels) whose light drifts by 5%, with a dark block that moves
// for 150 frames and then parks. After warm-up the masks find the moving block exactly as drawn
// (within the morphology's edge), the background under it stays the scene's (robust update), and
// the parked block becomes background once it has stayed `memory` frames. Grey and colour, the
// model on every pixel and on the means of 2 x 2 and 3 x 3 blocks (64 = 21 x 3 + 1: the last column
// of pixels joins the last blocks); the texture changes from pixel to pixel, so only the pixels'
// detail keeps it out of the masks.
TEST(OnlineBackground, FindsMovingObjectsAndAbsorbsParkedOnes) {
  for (const auto& [channels, block] : {std::pair{1, 1}, {3, 1}, {1, 2}, {3, 2}, {1, 3}}) {
    SCOPED_TRACE(::testing::Message() << channels << " channels, blocks of " << block);
    const stages::FrameGeometry geometry{.width = 64, .height = 48, .channels = channels};
    std::mt19937 random(11);
    std::normal_distribution<float> noise(0, 2.0f / 255);
    const Eigen::VectorXf scene = textured_scene(geometry, random);
    stages::OnlineBackground online(geometry,
                                    {.rank = 1, .memory = 30, .warmup = 20, .mask = {}, .model_block = block});
    ASSERT_EQ(online.model_block(), block);
    long matched = 0, drawn = 0, wrong = 0;
    double worst_background_error = 0;
    for (int t = 0; t < 400; ++t) {
      const float gain = 1 + 0.05f * std::sin(0.01f * static_cast<float>(t));
      Eigen::VectorXf frame = gain * scene;
      cv::Mat truth = cv::Mat::zeros(geometry.height, geometry.width, CV_8U);
      const int x = t < 150 ? (4 * t) % 54 : 30;  // moves 4 pixels a frame, then parks at x = 30
      truth(cv::Rect(x, 16, 10, 12)).setTo(255);
      for (int y = 16; y < 28; ++y)
        for (int dx = 0; dx < 10; ++dx)
          frame.segment((y * geometry.width + x + dx) * channels, channels).setConstant(0.05f);
      for (auto& v : frame) v += noise(random);
      const stages::FrameSplit result = online.split(frame);
      EXPECT_EQ(result.warming_up, t < 20) << t;
      if (t >= 20 && t < 150) {
        matched += cv::countNonZero(result.mask & truth);
        drawn += cv::countNonZero(truth);
        wrong += cv::countNonZero(result.mask & ~truth);
        for (int y = 16; y < 28; ++y)
          for (int dx = 0; dx < 10; ++dx)
            for (int c = 0; c < channels; ++c) {
              const Eigen::Index i = (y * geometry.width + x + dx) * channels + c;
              worst_background_error = std::max(worst_background_error,
                                                static_cast<double>(std::abs(result.background[i] - gain * scene[i])));
            }
      }
      if (t >= 150 + 30 + 5) {
        EXPECT_EQ(cv::countNonZero(result.mask), 0) << "the parked block is background by now, " << t;
      }
    }
    EXPECT_GT(static_cast<double>(matched) / static_cast<double>(drawn), 0.95);  // the opening rounds the corners
    EXPECT_LT(static_cast<double>(wrong) / static_cast<double>(drawn), 0.03);
    EXPECT_LT(worst_background_error, 6.0 / 255) << "objects pulled the background";
    EXPECT_NEAR(online.noise_sigma(), 2.0 / 255, 0.3 / 255);
  }
}

// An object stands still through the warm-up, so the first background holds it, and then leaves:
// the scene it uncovers is foreground (a ghost) until it has been seen for `memory` frames, then
// background at once, with the scene's own values. Meanwhile a block that moves is still found.
// The model on every pixel and on 2 x 2 blocks.
TEST(OnlineBackground, GhostOfAnObjectParkedDuringWarmUpFadesAfterMemoryFrames) {
  for (int block : {1, 2}) {
    SCOPED_TRACE(block);
    const stages::FrameGeometry geometry{.width = 64, .height = 48, .channels = 1};
    std::mt19937 random(5);
    std::normal_distribution<float> noise(0, 2.0f / 255);
    const Eigen::VectorXf scene = textured_scene(geometry, random);
    const double memory = 40;
    stages::OnlineBackground online(geometry,
                                    {.rank = 1, .memory = memory, .warmup = 20, .mask = {}, .model_block = block});
    const cv::Rect parked(30, 16, 10, 12);
    const auto draw = [&](Eigen::VectorXf& frame, const cv::Rect& block) {
      for (int y = block.y; y < block.y + block.height; ++y)
        frame.segment(y * geometry.width + block.x, block.width).setConstant(0.05f);
    };
    for (int t = 0; t < 200; ++t) {
      Eigen::VectorXf frame = scene;
      if (t < 60) draw(frame, parked);  // leaves at t = 60
      const cv::Rect moving((3 * t) % 50, 36, 8, 8);
      draw(frame, moving);
      for (auto& v : frame) v += noise(random);
      const stages::FrameSplit result = online.split(frame);
      if (t < 20) continue;
      const cv::Mat mask = result.mask;
      if (t >= 62 && t < 60 + memory - 2) {
        EXPECT_GT(cv::countNonZero(mask(parked)), parked.area() * 9 / 10) << "ghost at " << t;
      }
      if (t >= 60 + memory + 2) {
        EXPECT_EQ(cv::countNonZero(mask(parked)), 0) << "the ghost is background by now, " << t;
        for (int y = parked.y; y < parked.y + parked.height; ++y)
          EXPECT_LT((result.background.segment(y * geometry.width + parked.x, parked.width) -
                     scene.segment(y * geometry.width + parked.x, parked.width))
                        .cwiseAbs()
                        .maxCoeff(),
                    6.0f / 255)
              << t;
      }
      EXPECT_GT(cv::countNonZero(mask(moving)), moving.area() * 8 / 10) << "the moving block at " << t;
    }
  }
}

// Leaving the frame's background out (as `live` does unless it shows or saves it) changes nothing
// else: the same masks, frame by frame, on every pixel and on 2 x 2 blocks.
TEST(OnlineBackground, LeavingTheBackgroundOutGivesTheSameMasks) {
  for (int block : {1, 2}) {
    SCOPED_TRACE(block);
    const stages::FrameGeometry geometry{.width = 64, .height = 48, .channels = 1};
    std::mt19937 random(7);
    std::normal_distribution<float> noise(0, 2.0f / 255);
    const Eigen::VectorXf scene = textured_scene(geometry, random);
    stages::OnlineOptions options{.rank = 1, .memory = 30, .warmup = 10, .mask = {}, .model_block = block};
    stages::OnlineBackground with_background(geometry, options);
    options.background = false;
    stages::OnlineBackground without(geometry, options);
    long found = 0;
    for (int t = 0; t < 60; ++t) {
      Eigen::VectorXf frame = scene;
      for (int y = 10; y < 22; ++y) frame.segment(y * geometry.width + (3 * t) % 50, 10).setConstant(0.05f);
      for (auto& v : frame) v += noise(random);
      const stages::FrameSplit a = with_background.split(frame), b = without.split(frame);
      ASSERT_EQ(cv::countNonZero(a.mask != b.mask), 0) << t;
      EXPECT_EQ(a.background.size(), geometry.values());
      if (t >= 10) {
        EXPECT_EQ(b.background.size(), 0) << t;
      }
      found += cv::countNonZero(a.mask);
    }
    EXPECT_GT(found, 50 * 10 * 12 * 8 / 10);
  }
}

// The model's block side by the frame's size: every pixel up to 2^18 pixels, above that at most
// 2^16 block means; a side given is kept, one that is negative or larger than the frame is refused.
TEST(OnlineBackground, ModelBlockFollowsTheFrameSize) {
  const auto block_of = [](int width, int height, int requested = 0) {
    stages::OnlineOptions options;
    options.model_block = requested;
    return stages::OnlineBackground({.width = width, .height = height, .channels = 1}, options).model_block();
  };
  EXPECT_EQ(block_of(320, 240), 1);
  EXPECT_EQ(block_of(512, 512), 1);
  EXPECT_EQ(block_of(513, 512), 2);  // 256 x 256 means
  EXPECT_EQ(block_of(640, 480), 3);
  EXPECT_EQ(block_of(1280, 720), 4);
  EXPECT_EQ(block_of(1920, 1080), 6);
  EXPECT_EQ(block_of(3840, 2160), 12);
  EXPECT_EQ(block_of(320, 240, 2), 2);
  EXPECT_EQ(block_of(1920, 1080, 1), 1);
  EXPECT_THROW(block_of(320, 240, -1), Error);
  EXPECT_THROW(block_of(320, 240, 241), Error);
}

// A camera's 8-bit levels and the same frames as floats in [0, 1] give the same model: the levels
// are converted where they are read. Grey and colour, every pixel and blocks of 2; a block moves so
// that masks are not empty. The two paths round differently (a level times 1/255 fused into the
// next operation in one, rounded first in the other; block means summed as integers or as floats),
// by a few units of float's epsilon a value. A noiseless scene keeps every residual either within
// that of zero (the background) or tens of levels from it (the block), far from any mask level (at
// least half a grey level), so no pixel can flip: the masks must be identical, and the backgrounds
// may differ by the rounding alone. The model's steps do not amplify it (projections, and updates
// weighted down by the forgetting factor), so after 80 frames of rank-2 updates it stays within
// 80 x 2 x a few epsilon of a value in [0, 1]: 1e-4, 1/40 of a grey level, bounds it with room.
TEST(OnlineBackground, LevelsAndFloatsOfTheSameFramesGiveTheSameResult) {
  for (const auto& [channels, block] : {std::pair{1, 1}, {3, 1}, {1, 2}, {3, 2}}) {
    SCOPED_TRACE(::testing::Message() << channels << " channels, blocks of " << block);
    const stages::FrameGeometry geometry{.width = 64, .height = 48, .channels = channels};
    std::mt19937 random(3);
    std::uniform_int_distribution<int> texture(60, 190);
    Eigen::VectorXf scene(geometry.values());
    for (auto& v : scene) v = static_cast<float>(texture(random));
    const stages::OnlineOptions options{.rank = 2, .memory = 20, .warmup = 10, .mask = {}, .model_block = block};
    stages::OnlineBackground from_levels(geometry, options), from_floats(geometry, options);
    long mask_pixels = 0;
    float largest_difference = 0;
    for (int t = 0; t < 80; ++t) {
      Eigen::VectorXf frame = scene;
      const int x = (3 * t) % 50;
      for (int y = 10; y < 24; ++y) frame.segment((y * geometry.width + x) * channels, 12 * channels).setConstant(20);
      const stages::FrameColumnLevels levels = frame.cast<std::uint8_t>();
      const stages::FrameSplit a = from_levels.split(levels);
      const stages::FrameSplit b = from_floats.split(Eigen::VectorXf(stages::frame_values(levels)));
      ASSERT_EQ(cv::countNonZero(a.mask != b.mask), 0) << "frame " << t;
      largest_difference = std::max(largest_difference, (a.background - b.background).cwiseAbs().maxCoeff());
      mask_pixels += cv::countNonZero(a.mask);
    }
    EXPECT_GT(mask_pixels, 70 * 12 * 14 * 8 / 10);  // the block was found after the warm-up
    EXPECT_LE(largest_difference, 1e-4f);
    EXPECT_NEAR(from_levels.noise_sigma(), from_floats.noise_sigma(), 1e-6);
  }
}

TEST(Preview, ContactSheetHasOneRowPerFrameAndShrinksLargeCells) {
  const cv::Mat grey(480, 640, CV_8U, cv::Scalar(100)), colour(480, 640, CV_8UC3, cv::Scalar(1, 2, 3));
  const stages::PreviewRow row{grey, colour, grey, grey};
  const cv::Mat sheet = stages::contact_sheet({row, row});
  EXPECT_EQ(sheet.type(), CV_8UC3);
  EXPECT_EQ(sheet.cols, 4 * (320 + 4));  // 2-pixel borders on each side of each cell
  EXPECT_EQ(sheet.rows, 2 * (240 + 4));
  EXPECT_EQ(sheet.at<cv::Vec3b>(100, 324 + 100), cv::Vec3b(1, 2, 3));
}

TEST(Npz, NumpyLoadsTheArraysWithTheirShapes) {
  const auto path = std::filesystem::temp_directory_path() / "cleanplate_npz_test.npz";
  Eigen::MatrixXf u(3, 2);
  u << 1, 2, 3, 4, 5, 6;
  io::NpzWriter npz;
  npz.add("U", u);
  npz.add("S", Eigen::VectorXf::Constant(2, 7.0f).eval());
  npz.add("shape", std::vector<std::int64_t>{240, 320, 1});
  npz.add_string("producer", "cleanplate");
  npz.write(path);
  const std::string check = std::string(CLEANPLATE_PYTHON) + " -c \"import numpy as n; d=n.load('" + path.string() +
                            "'); assert d['U'].shape==(3,2) and d['U'][2,1]==6 and d['U'][0,1]==2 and d['U'][1,0]==3; "
                            "assert list(d['S'])==[7,7]; assert list(d['shape'])==[240,320,1]; "
                            "assert str(d['producer'])=='cleanplate'\"";
  EXPECT_EQ(std::system(check.c_str()), 0);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cleanplate

// The OpenCV interface over the online decomposer: BGR frames in, masks of the block that moves out
// (empty during warm-up), the scene as the background image; learningRate 0 freezes the model, so
// a block that parks stays foreground; a frame of another size is refused.
TEST(BackgroundSubtractorLowRank, FindsTheMovingBlockAndFreezesAtLearningRateZero) {
  cv::setRNGSeed(13);
  cv::Mat scene(48, 64, CV_8UC3);
  cv::randu(scene, 60, 200);
  const auto frame_with_block = [&](int x) {
    cv::Mat frame = scene.clone();
    frame(cv::Rect(x, 16, 10, 12)).setTo(cv::Scalar(10, 10, 10));
    cv::Mat noise(frame.size(), CV_16SC3);
    cv::randn(noise, 0, 2);
    frame.convertTo(frame, CV_16SC3);
    cv::Mat noisy;
    cv::add(frame, noise, noisy);
    noisy.convertTo(noisy, CV_8UC3);
    return noisy;
  };
  cv::Ptr<cv::BackgroundSubtractor> subtractor =
      cleanplate::createBackgroundSubtractorLowRank({.rank = 1, .memory = 30, .warmup = 20, .mask = {}});
  cv::Mat mask, background;
  subtractor->getBackgroundImage(background);
  EXPECT_TRUE(background.empty());
  double matched = 0, drawn = 0;
  for (int t = 0; t < 100; ++t) {
    const int x = (4 * t) % 54;
    subtractor->apply(frame_with_block(x), mask);
    ASSERT_EQ(mask.type(), CV_8UC1);
    // Warm-up masks from the third frame; until the block (10 pixels wide, 4 a frame) has left the
    // place where it stood in most frames seen so far, the mode holds part of it: five frames.
    if (t < 2) {
      EXPECT_EQ(cv::countNonZero(mask), 0) << "two frames have no majority";
    }
    if (t < 5) continue;
    cv::Mat truth = cv::Mat::zeros(mask.size(), CV_8U);
    truth(cv::Rect(x, 16, 10, 12)).setTo(255);
    matched += cv::countNonZero(mask & truth), drawn += cv::countNonZero(truth);
    EXPECT_LT(cv::countNonZero(mask & ~truth), 40) << t;
  }
  EXPECT_GT(matched / drawn, 0.9);
  subtractor->getBackgroundImage(background);
  cv::Mat grey_scene;
  cv::cvtColor(scene, grey_scene, cv::COLOR_BGR2GRAY);
  ASSERT_EQ(background.size(), scene.size());
  EXPECT_LT(cv::norm(background(cv::Rect(0, 0, 64, 14)), grey_scene(cv::Rect(0, 0, 64, 14)), cv::NORM_INF), 8);
  // Parked for 3 memory spans: frozen, still foreground; learning, background by then.
  for (const double rate : {0.0, -1.0}) {
    cv::Ptr<cv::BackgroundSubtractor> copy =
        cleanplate::createBackgroundSubtractorLowRank({.rank = 1, .memory = 30, .warmup = 20, .mask = {}});
    for (int t = 0; t < 40; ++t) copy->apply(frame_with_block((4 * t) % 54), mask);
    for (int t = 0; t < 90; ++t) copy->apply(frame_with_block(30), mask, rate);
    if (rate == 0)
      EXPECT_GT(cv::countNonZero(mask), 100) << "frozen: the parked block is still foreground";
    else
      EXPECT_EQ(cv::countNonZero(mask), 0) << "learning: the parked block became background";
  }
  EXPECT_THROW(subtractor->apply(cv::Mat(24, 32, CV_8UC3, cv::Scalar(0)), mask), cleanplate::Error);
  EXPECT_THROW(subtractor->apply(cv::Mat(48, 64, CV_32FC1, cv::Scalar(0)), mask), cleanplate::Error);
}
