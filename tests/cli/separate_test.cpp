// `cleanplate separate` end to end: quality on a synthetic scene with ground truth, the real
// sequences in ../shared/data, bad input, and interrupts.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cleanplate/io/model_file.hpp"
#include "cli_test_support.hpp"

namespace cleanplate::testing {
namespace {

TEST(SyntheticScene, MasksAndBackgroundMatchTheGroundTruth) {
  const fs::path scene = synthetic_scene(), out = scratch_folder() / "out";
  const ProgramRun result =
      run(cleanplate_command("separate '" + (scene / "scene.mkv").string() + "' -o '" + out.string() + "' --png"),
          out.parent_path());
  ASSERT_EQ(result.exit_code, 0) << result.errors;
  EXPECT_TRUE(one_line(result.errors)) << "the summary line: " << result.errors;

  const auto counts = pipeline::score_mask_folder(out / "masks", io::open_cdnet_sequence(scene));
  std::printf("synthetic scene: F-measure %.4f (precision %.4f, recall %.4f)\n", counts.f_measure(), counts.precision(),
              counts.recall());
  EXPECT_GE(counts.f_measure(), 0.9);

  const cv::Mat truth = cv::imread((scene / "background.png").string(), cv::IMREAD_GRAYSCALE);
  const cv::Mat plate = cv::imread((out / "background.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(plate.size(), truth.size());
  const double psnr = cv::PSNR(plate, truth);
  std::printf("synthetic scene: background PSNR %.2f dB\n", psnr);
  EXPECT_GE(psnr, 35.0);

  EXPECT_EQ(decodable_frames(out / "mask.mp4"), 200);
  EXPECT_EQ(decodable_frames(out / "foreground.mp4"), 200);
  EXPECT_FALSE(cv::imread((out / "preview.png").string()).empty());
  EXPECT_NE(read_text(out / "summary.json").find("\"status\": \"complete\""), std::string::npos);
  EXPECT_FALSE(fs::exists(out / "background.mp4")) << "rank 1 writes only the clean plate";
  EXPECT_FALSE(has_partial_files(out));
}

// 200 frames (15 MB of 8-bit levels; the split's buffers and model.npz's encoder plan 37 MB) in 44 MiB: the model
// comes from a sample (about 110 frames), and every frame is split as it is decoded again. The masks, the clean plate
// and model.npz hold up as they do with the whole video in memory.
TEST(SyntheticScene, VideoLongerThanMaxMemoryIsReadTwice) {
  const fs::path scene = synthetic_scene(), out = scratch_folder() / "out";
  const ProgramRun result = run(cleanplate_command("separate '" + (scene / "scene.mkv").string() + "' -o '" +
                                                   out.string() + "' --png --max-memory 44M"),
                                out.parent_path());
  ASSERT_EQ(result.exit_code, 0) << result.errors;
  const std::string summary = read_text(out / "summary.json");
  const double sample = summary_number(out / "summary.json", "sample_frames");
  EXPECT_GT(sample, 16) << summary;
  EXPECT_LT(sample, 200) << summary;
  EXPECT_EQ(summary_number(out / "summary.json", "frames"), 200) << summary;

  const auto counts = pipeline::score_mask_folder(out / "masks", io::open_cdnet_sequence(scene));
  std::printf("synthetic scene, %g-frame sample: F-measure %.4f\n", sample, counts.f_measure());
  EXPECT_GE(counts.f_measure(), 0.9);
  const cv::Mat truth = cv::imread((scene / "background.png").string(), cv::IMREAD_GRAYSCALE);
  EXPECT_GE(cv::PSNR(cv::imread((out / "background.png").string(), cv::IMREAD_UNCHANGED), truth), 35.0);
  EXPECT_EQ(decodable_frames(out / "mask.mp4"), 200);

  const io::ModelFile model = io::read_model_file(out / "model.npz");
  EXPECT_EQ(model.frames, 200);
  EXPECT_GE(model.psnr, 35.0);
  const cv::Mat first = cv::imread((scene / "input/in000001.png").string(), cv::IMREAD_GRAYSCALE);
  const std::vector<std::uint8_t> rebuilt = io::ModelDecoder(model).frame(0);
  EXPECT_GE(cv::PSNR(cv::Mat(first.size(), CV_8U, const_cast<std::uint8_t*>(rebuilt.data())), first), 35.0);
  EXPECT_FALSE(has_partial_files(out));
  // The foreground arrays were deflated in pieces on several threads: a zip reader of its own checks
  // every array's CRC and deflate stream.
  const ProgramRun check = run(std::string(CLEANPLATE_PYTHON) +
                                   " -c 'import sys, zipfile; sys.exit(zipfile.ZipFile(sys.argv[1]).testzip())' '" +
                                   (out / "model.npz").string() + "'",
                               out);
  EXPECT_EQ(check.exit_code, 0) << check.errors;
}

// The same scene in H.264 with B-frames (x264 veryfast): the sample is read by two decoders, each on half of the
// video, which skip the frames nothing refers to and so take a neighbour of some planned frames (and fewer frames
// where those lie closer together than the frames others refer to). The masks hold up all the same.
TEST(SyntheticScene, H264SampleSkipsTheFramesNothingRefersTo) {
  const fs::path scene = synthetic_scene(), scratch = scratch_folder(), video = scratch / "scene.mp4",
                 out = scratch / "out";
  const std::string encode = "ffmpeg -nostdin -v error -y -i '" + (scene / "scene.mkv").string() +
                             "' -c:v libx264 -preset veryfast -pix_fmt yuv420p '" + video.string() + "'";
  ASSERT_EQ(std::system(encode.c_str()), 0) << encode;
  const ProgramRun result =
      run(cleanplate_command("separate '" + video.string() + "' -o '" + out.string() + "' --png --max-memory 44M"),
          scratch);
  ASSERT_EQ(result.exit_code, 0) << result.errors;
  const std::string summary = read_text(out / "summary.json");
  const double sample = summary_number(out / "summary.json", "sample_frames");
  EXPECT_GT(sample, 16) << summary;
  EXPECT_LT(sample, 200) << summary;
  EXPECT_EQ(summary_number(out / "summary.json", "frames"), 200) << summary;
  EXPECT_NE(summary.find("\"source_ended_early\": false"), std::string::npos) << summary;
  const auto counts = pipeline::score_mask_folder(out / "masks", io::open_cdnet_sequence(scene));
  std::printf("synthetic scene in H.264, %g-frame sample: F-measure %.4f\n", sample, counts.f_measure());
  EXPECT_GE(counts.f_measure(), 0.9);
}

// Raw H.264 stores no frame count or duration: the frame matrix starts at 256 columns and grows as
// the frames come, and must keep every column it had (it once kept none). Told the count, it does
// not grow: the two runs see the same frames and must write the same files.
TEST(SyntheticScene, VideoWithoutAFrameCountKeepsEveryFrame) {
  const fs::path scene = synthetic_scene(), scratch = scratch_folder(), video = scratch / "scene.h264";
  const std::string encode = "ffmpeg -nostdin -v error -y -stream_loop 1 -i '" + (scene / "scene.mkv").string() +
                             "' -c:v libx264 -preset veryfast -pix_fmt yuv420p -f h264 '" + video.string() + "'";
  ASSERT_EQ(std::system(encode.c_str()), 0) << encode;
  for (const char* frames : {"", " --frames 400"}) {
    const fs::path out = scratch / (*frames ? "told" : "grown");
    const ProgramRun result = run(cleanplate_command("separate '" + video.string() + "' -q --png -o '" + out.string() +
                                                     "' --outputs mask,background" + frames),
                                  scratch);
    ASSERT_EQ(result.exit_code, 0) << result.errors;
    EXPECT_EQ(summary_number(out / "summary.json", "frames"), 400) << read_text(out / "summary.json");
  }
  EXPECT_EQ(read_text(scratch / "grown" / "background.png"), read_text(scratch / "told" / "background.png"));
  long compared = 0;
  for (const auto& entry : fs::directory_iterator(scratch / "grown" / "masks")) {
    EXPECT_EQ(read_text(entry.path()), read_text(scratch / "told" / "masks" / entry.path().filename())) << entry.path();
    ++compared;
  }
  EXPECT_EQ(compared, 400);
}

// The 55 frames `separate` samples from five loops of a 1800-frame scene are 11 frames, 5 times
// each, at 11 levels of its light drift: each pixel's densest level is then any of the 11. Unless
// the frames are brought to one light level first, the robust fit starts from a mixed mode and
// marks two thirds of the brightest frames as foreground (F 0.23).
TEST(SyntheticScene, SampleWithLightAtAFewLevels) {
  const fs::path scratch = scratch_folder(), scene = scratch / "scene", sample = scratch / "sample";
  ASSERT_EQ(std::system((std::string(CLEANPLATE_SYNTH) + " '" + scene.string() +
                         "' --width 160 --height 90 --frames 1800 --fps 30 --noise 0.2 > /dev/null")
                            .c_str()),
            0);
  fs::create_directories(sample / "input"), fs::create_directories(sample / "groundtruth");
  fs::copy_file(scene / "ROI.bmp", sample / "ROI.bmp");
  const auto numbered = [](const char* prefix, long number) {
    char name[32];
    std::snprintf(name, sizeof name, "%s%06ld.png", prefix, number);
    return std::string(name);
  };
  for (long k = 0; k < 55; ++k) {
    const long frame = (2 * k + 1) * 9000 / 110 % 1800;  // stages::evenly_spaced_frames(9000, 55), looped
    fs::copy_file(scene / "input" / numbered("in", frame + 1), sample / "input" / numbered("in", k + 1));
    fs::copy_file(scene / "groundtruth" / numbered("gt", frame + 1), sample / "groundtruth" / numbered("gt", k + 1));
  }
  const ProgramRun result = run(cleanplate_command("separate '" + (sample / "input").string() +
                                                   "' -q --outputs mask --png -o '" + (scratch / "out").string() + "'"),
                                scratch);
  ASSERT_EQ(result.exit_code, 0) << result.errors;
  const auto counts = pipeline::score_mask_folder(scratch / "out" / "masks", io::open_cdnet_sequence(sample));
  std::printf("light at 11 levels: F-measure %.4f\n", counts.f_measure());
  EXPECT_GE(counts.f_measure(), 0.95);
}

TEST(SyntheticScene, TwoRunsGiveIdenticalMasks) {
  const fs::path scene = synthetic_scene(), scratch = scratch_folder();
  for (const char* name : {"a", "b"}) {
    const ProgramRun result =
        run(cleanplate_command("separate '" + (scene / "input").string() + "' -q --outputs mask --png -o '" +
                               (scratch / name).string() + "'"),
            scratch);
    ASSERT_EQ(result.exit_code, 0) << result.errors;
    EXPECT_TRUE(result.errors.empty()) << "--quiet prints nothing: " << result.errors;
  }
  long compared = 0;
  for (const auto& entry : fs::directory_iterator(scratch / "a" / "masks")) {
    EXPECT_EQ(read_text(entry.path()), read_text(scratch / "b" / "masks" / entry.path().filename())) << entry.path();
    ++compared;
  }
  EXPECT_EQ(compared, 200);
}

TEST(SyntheticScene, ColourRankThreeWritesABackgroundVideo) {
  const fs::path scene = synthetic_scene(), out = scratch_folder() / "out";
  const ProgramRun result =
      run(cleanplate_command("separate '" + (scene / "input/in%06d.png").string() +
                             "' -q --rank 3 --color --scale 0.5 --start 20 --frames 100 --fps 10 -o '" + out.string() +
                             "'"),
          out.parent_path());
  ASSERT_EQ(result.exit_code, 0) << result.errors;
  EXPECT_EQ(decodable_frames(out / "background.mp4"), 100);
  EXPECT_EQ(summary_number(out / "summary.json", "fps"), 10) << read_text(out / "summary.json");
  cv::VideoCapture foreground((out / "foreground.mp4").string());
  EXPECT_EQ(foreground.get(cv::CAP_PROP_FPS), 10);
  EXPECT_EQ(foreground.get(cv::CAP_PROP_FRAME_WIDTH), 160);
  EXPECT_EQ(cv::imread((out / "background.png").string(), cv::IMREAD_UNCHANGED).channels(), 3);
}

// Bad input: one line on stderr, a non-zero exit, and nothing in OUT that looks complete.
void expect_clean_failure(const std::string& arguments, const std::string& message, int exit_code = 1) {
  const fs::path out = scratch_folder() / "out";
  const ProgramRun result = run(cleanplate_command(arguments + " -o '" + out.string() + "'"), out.parent_path());
  EXPECT_EQ(result.exit_code, exit_code) << result.errors;
  EXPECT_TRUE(one_line(result.errors)) << result.errors;
  EXPECT_NE(result.errors.find(message), std::string::npos) << result.errors;
  for (const char* name : {"summary.json", "mask.mp4", "foreground.mp4", "model.npz", "background.png", "preview.png"})
    EXPECT_FALSE(fs::exists(out / name)) << name;
  EXPECT_FALSE(has_partial_files(out));
}

TEST(BadInput, MissingFile) { expect_clean_failure("separate /nonexistent/video.mp4", "no such file"); }

TEST(BadInput, TextFileNamedMp4) {
  const fs::path file = fs::temp_directory_path() / "cleanplate-not-a-video.mp4";
  std::ofstream(file) << "this is not a video\n";
  expect_clean_failure("separate '" + file.string() + "'", "not a video file");
}

TEST(BadInput, EmptyFile) {
  const fs::path file = fs::temp_directory_path() / "cleanplate-empty.mkv";
  std::ofstream{file};
  expect_clean_failure("separate '" + file.string() + "'", "the file is empty");
}

TEST(BadInput, UnwritableOutputFolder) {
  const fs::path scene = synthetic_scene(), blocker = scratch_folder() / "a-file";
  std::ofstream(blocker) << "x";
  const ProgramRun result = run(
      cleanplate_command("separate '" + (scene / "scene.mkv").string() + "' -o '" + (blocker / "out").string() + "'"),
      blocker.parent_path());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(one_line(result.errors)) << result.errors;
  EXPECT_NE(result.errors.find("cannot create output folder"), std::string::npos) << result.errors;
}

TEST(BadInput, RankLargerThanTheFrameCount) {
  expect_clean_failure("separate '" + (synthetic_scene() / "scene.mkv").string() + "' --frames 5 --rank 6",
                       "larger than the number of frames");
}

TEST(BadInput, StartPastTheEnd) {
  expect_clean_failure(
      "separate '" + (synthetic_scene() / "scene.mkv").string() + "' --start 200",
      "--start 200 is past the end of '" + (synthetic_scene() / "scene.mkv").string() + "', which has 200 frames");
}

// One image of a folder that does not decode: its frame repeats the one before, so every later mask
// keeps its number; a warning and summary.json say so. With --strict the run stops at it instead.
TEST(BadInput, UndecodableImageInAFolderIsStoodInFor) {
  const fs::path scratch = scratch_folder(), input = scratch / "input", out = scratch / "out";
  fs::copy(synthetic_scene() / "input", input);
  std::ofstream(input / "in000050.png", std::ios::trunc) << "not a PNG";
  const ProgramRun result =
      run(cleanplate_command("separate '" + input.string() + "' --png -o '" + out.string() + "'"), scratch);
  ASSERT_EQ(result.exit_code, 0) << result.errors;
  EXPECT_NE(result.errors.find("1 image(s) of '" + input.string() + "' could not be decoded (the first: '" +
                               (input / "in000050.png").string() + "')"),
            std::string::npos)
      << result.errors;
  EXPECT_EQ(summary_number(out / "summary.json", "undecodable_images"), 1);
  EXPECT_EQ(summary_number(out / "summary.json", "frames"), 200);
  EXPECT_TRUE(fs::exists(out / "masks/bin000200.png"));
  const cv::Mat before = cv::imread((out / "masks/bin000049.png").string(), cv::IMREAD_GRAYSCALE),
                stand_in = cv::imread((out / "masks/bin000050.png").string(), cv::IMREAD_GRAYSCALE);
  ASSERT_FALSE(before.empty());
  EXPECT_EQ(cv::countNonZero(before != stand_in), 0) << "frame 50 is frame 49 again";

  const ProgramRun strict =
      run(cleanplate_command("separate '" + input.string() + "' --strict -o '" + (scratch / "strict").string() + "'"),
          scratch);
  EXPECT_EQ(strict.exit_code, 1);
  EXPECT_TRUE(one_line(strict.errors)) << strict.errors;
  EXPECT_NE(strict.errors.find("cannot decode image '" + (input / "in000050.png").string() + "'"), std::string::npos)
      << strict.errors;
  EXPECT_FALSE(fs::exists(scratch / "strict/summary.json"));
}

TEST(BadInput, MaxMemoryTooSmallForASample) {
  expect_clean_failure("separate '" + (synthetic_scene() / "scene.mkv").string() + "' --max-memory 10M",
                       "--max-memory 10.0 MiB is too small for 320x240x1 frames");
}

TEST(BadInput, UnknownOption) { expect_clean_failure("separate x.mp4 --bogus 3", "unrecognised option '--bogus'", 2); }

TEST(BadInput, TruncatedVideoProcessesTheFramesItCanRead) {
  const fs::path scratch = scratch_folder(), video = scratch / "truncated.mkv";
  fs::copy_file(synthetic_scene() / "scene.mkv", video);
  fs::resize_file(video, fs::file_size(video) * 6 / 10);
  const ProgramRun result =
      run(cleanplate_command("separate '" + video.string() + "' -o '" + (scratch / "out").string() + "'"), scratch);
  ASSERT_EQ(result.exit_code, 0) << result.errors;
  EXPECT_NE(result.errors.find("could be decoded"), std::string::npos) << result.errors;
  const std::string summary = read_text(scratch / "out/summary.json");
  EXPECT_NE(summary.find("\"source_ended_early\": true"), std::string::npos) << summary;
  const long frames = decodable_frames(scratch / "out/mask.mp4");
  EXPECT_GT(frames, 50);
  EXPECT_LT(frames, 200);
}

// Ctrl-C or SIGTERM during a run: exit 130, a summary that says so, and every video present plays.
void expect_clean_interrupt(int signal_number) {
  const fs::path highway = shared_data() / "cdnet-baseline/highway/input";
  const fs::path input = fs::exists(highway) ? highway : synthetic_scene() / "input";
  const fs::path out = scratch_folder() / "out";
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl(CLEANPLATE_BINARY, CLEANPLATE_BINARY, "separate", input.c_str(), "-q", "--png", "-o", out.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // The split has begun once the fifth mask is on disk; 195 frames or more are then left, far more
  // than are split between two polls. (A fixed wait let a small scene finish before the signal.)
  bool splitting = false;
  for (int i = 0; i < 120'000 && !splitting && ::waitpid(child, nullptr, WNOHANG) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    splitting = fs::exists(out / "masks/bin000005.png");
  }
  ASSERT_TRUE(splitting) << "the run never split its fifth frame";
  ::kill(child, signal_number);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_NE(read_text(out / "summary.json").find("\"status\": \"interrupted\""), std::string::npos);
  for (const char* video : {"mask.mp4", "foreground.mp4"}) {
    if (fs::exists(out / video)) {
      EXPECT_GT(decodable_frames(out / video), 0) << video;
    }
  }
  if (fs::exists(out / "model.npz")) {  // a complete model of the frames written before the signal
    const ProgramRun info = run(cleanplate_command("info '" + (out / "model.npz").string() + "'"), out.parent_path());
    EXPECT_EQ(info.exit_code, 0) << info.errors;
    const ProgramRun rebuild = run(cleanplate_command("rebuild -q '" + (out / "model.npz").string() + "' -o '" +
                                                      (out / "rebuilt.mkv").string() + "'"),
                                   out.parent_path());
    EXPECT_EQ(rebuild.exit_code, 0) << rebuild.errors;
    EXPECT_EQ(decodable_frames(out / "rebuilt.mkv"),
              static_cast<long>(summary_number(out / "summary.json", "frames_written")));
  }
  EXPECT_FALSE(has_partial_files(out));
}

// `cleanplate live` on a file as fast as possible: the whole live pipeline (reader thread,
// mailbox, flow graph, online decomposer, writers) without real-time pacing, so it also runs
// under the sanitizers. The real-time tests are in live_test.cpp. Background snapshots every 2 s of
// the source (25 fps, 8 s): the first after the 1 s warm-up, then at 3, 5 and 7 s.
TEST(Live, FileAsFastAsPossibleFindsTheObjects) {
  const fs::path scene = synthetic_scene(), out = scratch_folder() / "out";
  const ProgramRun result =
      run(cleanplate_command("live '" + (scene / "scene.mkv").string() +
                             "' --no-realtime --png --foreground --every 2 -o '" + out.string() + "'"),
          out.parent_path());
  ASSERT_EQ(result.exit_code, 0) << result.errors;
  EXPECT_TRUE(one_line(result.errors)) << result.errors;
  EXPECT_EQ(summary_number(out / "summary.json", "frames_processed"), 200);
  EXPECT_EQ(summary_number(out / "summary.json", "frames_dropped"), 0);
  const auto counts = score_after_warmup(scene, out / "masks", 25, 200);
  std::printf("live, synthetic scene: F-measure %.4f after warm-up (precision %.4f, recall %.4f)\n", counts.f_measure(),
              counts.precision(), counts.recall());
  EXPECT_GE(counts.f_measure(), 0.85);
  EXPECT_EQ(decodable_frames(out / "mask.mp4"), 200);
  EXPECT_EQ(decodable_frames(out / "foreground.mp4"), 200);
  // Each snapshot is the background of its moment (the scene's light drifts): compared with that
  // frame where the ground truth says background, most pixels differ by sensor noise only (2
  // levels; the rest are ghosts of objects that crawled during the warm-up, absorbed over --memory).
  // Where the objects are, the snapshot shows the background instead.
  for (int seconds : {1, 3, 5, 7}) {
    char name[32], number[16];
    std::snprintf(name, sizeof name, "background-%06ds.png", seconds);
    std::snprintf(number, sizeof number, "%06d.png", seconds * 25 + 1);
    const cv::Mat snapshot = cv::imread((out / name).string(), cv::IMREAD_UNCHANGED);
    const cv::Mat frame = cv::imread((scene / "input" / (std::string("in") + number)).string(), cv::IMREAD_GRAYSCALE);
    const cv::Mat truth =
        cv::imread((scene / "groundtruth" / (std::string("gt") + number)).string(), cv::IMREAD_GRAYSCALE);
    ASSERT_EQ(snapshot.size(), frame.size()) << name;
    cv::Mat difference;
    cv::absdiff(snapshot, frame, difference);
    const double background = cv::countNonZero(truth == 0), close = cv::countNonZero((difference <= 8) & (truth == 0));
    const double objects = cv::countNonZero(truth == 255), hidden = cv::countNonZero((difference > 8) & (truth == 255));
    std::printf(
        "live snapshot at %d s: %.1f%% of the background within 8 levels of the frame, %.1f%% of the objects not in "
        "it\n",
        seconds, 100 * close / background, 100 * hidden / objects);
    EXPECT_GT(close / background, 0.9) << name;
    EXPECT_GT(hidden / objects, 0.8) << name;
    EXPECT_NE(read_text(out / "summary.json").find(name), std::string::npos) << name << " is not listed in the summary";
  }
  EXPECT_FALSE(fs::exists(out / "background-000009s.png"));
  EXPECT_FALSE(has_partial_files(out));
}

TEST(BadInput, LiveModelBlockOutsideTheFrame) {
  const std::string scene = "live '" + (synthetic_scene() / "scene.mkv").string() + "' --no-realtime --model-block ";
  expect_clean_failure(scene + "-1", "--model-block must not be negative");
  expect_clean_failure(scene + "1000", "the model's block side (1000) must not exceed the frame's width or height");
}

TEST(BadInput, LiveSourceThatDoesNotExist) {
  const ProgramRun result =
      run(cleanplate_command("live /nonexistent/video.mp4 -o '" + (scratch_folder() / "out").string() + "'"),
          scratch_folder());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(one_line(result.errors) && result.errors.find("no such file") != std::string::npos) << result.errors;
}

TEST(Interrupt, CtrlCFinalizesTheOutputs) { expect_clean_interrupt(SIGINT); }
TEST(Interrupt, SigtermFinalizesTheOutputs) { expect_clean_interrupt(SIGTERM); }

}  // namespace
}  // namespace cleanplate::testing
