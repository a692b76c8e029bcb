// model.npz end to end: separate -> rebuild round trips (PSNR, exactness, compression ratio), the
// numpy snippet of docs/FORMAT.md against cleanplate's rebuild, `info`, and damaged model files.
#include "cleanplate/io/npz_reader.hpp"
#include "cli_test_support.hpp"

namespace cleanplate::testing {
namespace {

ProgramRun separate(const std::string& arguments, const fs::path& out) {
  return run(cleanplate_command("separate '" + (synthetic_scene() / "scene.mkv").string() +
                                "' -q --outputs model -o '" + out.string() + "' " + arguments),
             out.parent_path());
}

// Raw 8-bit frames over the model: the default settings must compress the synthetic scene at
// least this much (measured 30.8x; the floor leaves room for encoder and scene changes).
constexpr double minimum_ratio = 20;

TEST(Model, DefaultRoundTripIsAbove35DbAndSmall) {
  const fs::path scratch = scratch_folder(), out = scratch / "out", rebuilt = scratch / "rebuilt";
  const ProgramRun result = separate("", out);
  ASSERT_EQ(result.exit_code, 0) << result.errors;
  const ProgramRun rebuild = run(
      cleanplate_command("rebuild -q '" + (out / "model.npz").string() + "' -o '" + rebuilt.string() + "'"), scratch);
  ASSERT_EQ(rebuild.exit_code, 0) << rebuild.errors;
  const double psnr = video_psnr(decoded_frames((synthetic_scene() / "scene.mkv").string(), false), rebuilt);
  const double ratio = summary_number(out / "summary.json", "raw_to_model");
  std::printf("synthetic scene, default model: PSNR %.2f dB, %.1fx smaller than the raw frames\n", psnr, ratio);
  EXPECT_GE(psnr, 35.0);
  EXPECT_NEAR(psnr, summary_number(out / "summary.json", "psnr"), 0.01) << "the summary reports what rebuild gives";
  EXPECT_GE(ratio, minimum_ratio);
  EXPECT_FALSE(has_partial_files(out));
}

TEST(Model, LosslessForegroundRebuildsEveryValueGreyAndColour) {
  for (const bool color : {false, true}) {
    const fs::path scratch = scratch_folder(), out = scratch / "out", rebuilt = scratch / "rebuilt";
    const ProgramRun result = separate(
        std::string("--frames 60 --lossless-foreground --factors int8") + (color ? " --color --rank 2" : ""), out);
    ASSERT_EQ(result.exit_code, 0) << result.errors;
    const ProgramRun rebuild = run(
        cleanplate_command("rebuild -q '" + (out / "model.npz").string() + "' -o '" + rebuilt.string() + "'"), scratch);
    ASSERT_EQ(rebuild.exit_code, 0) << rebuild.errors;
    std::vector<cv::Mat> frames = decoded_frames((synthetic_scene() / "scene.mkv").string(), color);
    frames.resize(60);
    EXPECT_TRUE(std::isinf(video_psnr(frames, rebuilt))) << "colour " << color;
    EXPECT_TRUE(std::isinf(summary_number(out / "summary.json", "psnr")));
  }
}

// The five-line snippet, taken from docs/FORMAT.md itself, run by Debian's numpy.
TEST(Model, NumpySnippetEqualsCleanplateRebuild) {
  const std::string doc = read_text(fs::path(CLEANPLATE_SOURCE_DIR) / "docs/FORMAT.md");
  const auto begin = doc.find("```python\n") + 10, end = doc.find("```", begin);
  ASSERT_NE(begin, std::string::npos + 10);
  std::string snippet = doc.substr(begin, end - begin);
  for (const auto& [from, to] :
       {std::pair<std::string, std::string>{"\"out/model.npz\"", "sys.argv[1]"}, {"j = 0", "j = int(sys.argv[2])"}}) {
    ASSERT_NE(snippet.find(from), std::string::npos) << from;
    snippet.replace(snippet.find(from), from.size(), to);
  }
  const fs::path scratch = scratch_folder();
  std::ofstream(scratch / "snippet.py") << "import sys\n" << snippet << "np.save(sys.argv[3], frame)\n";

  for (const std::string settings :
       {"", "--color --rank 2 --factors int8 --foreground-step 5", "--factors f32 --lossless-foreground"}) {
    // 60 frames keep it quick under the sanitizers; the frames checked are the first, one inside, the last
    const fs::path out = scratch / "out", rebuilt = scratch / "rebuilt";
    fs::remove_all(out), fs::remove_all(rebuilt);
    ASSERT_EQ(separate("--frames 60 " + settings, out).exit_code, 0) << settings;
    ASSERT_EQ(run(cleanplate_command("rebuild -q '" + (out / "model.npz").string() + "' -o '" + rebuilt.string() + "'"),
                  scratch)
                  .exit_code,
              0);
    for (const long j : {0L, 37L, 59L}) {
      const fs::path npy = scratch / "frame.npy";
      const ProgramRun python =
          run(std::string(CLEANPLATE_PYTHON) + " '" + (scratch / "snippet.py").string() + "' '" +
                  (out / "model.npz").string() + "' " + std::to_string(j) + " '" + npy.string() + "'",
              scratch);
      ASSERT_EQ(python.exit_code, 0) << python.errors;
      const io::NpyArray array = io::parse_npy(read_text(npy), npy.string());
      const cv::Mat ours = rebuilt_frame(rebuilt, j + 1);
      ASSERT_EQ(array.dtype, "|u1");
      ASSERT_EQ(array.shape, (std::vector<std::int64_t>{ours.rows, ours.cols, ours.channels()}));
      EXPECT_EQ(std::memcmp(array.bytes.data(), ours.data, array.bytes.size()), 0)
          << "frame " << j << " with '" << settings << "'";
    }
  }
}

TEST(Model, InfoAndRebuildOptions) {
  const fs::path scratch = scratch_folder(), out = scratch / "out";
  ASSERT_EQ(separate("--rank 2", out).exit_code, 0);
  const fs::path model = out / "model.npz";
  const std::string info_file = (scratch / "info.txt").string();
  ASSERT_EQ(std::system((cleanplate_command("info '" + model.string() + "' > '" + info_file + "'")).c_str()), 0);
  const std::string info = read_text(info_file);
  for (const char* expected : {"200 at 25 fps, 320x240, grey", "rank 2, factors f16",
                               "residuals above 14 grey levels, in steps of 4", "PSNR", "foreground_values"})
    EXPECT_NE(info.find(expected), std::string::npos) << expected << " in:\n" << info;

  // --frames A:B writes frames A..B-1 with their own numbers; --background-only leaves out the foreground.
  const ProgramRun part = run(
      cleanplate_command("rebuild -q '" + model.string() + "' --frames 10:20 -o '" + (scratch / "part").string() + "'"),
      scratch);
  ASSERT_EQ(part.exit_code, 0) << part.errors;
  EXPECT_EQ(std::distance(fs::directory_iterator(scratch / "part"), fs::directory_iterator()), 10);
  EXPECT_FALSE(rebuilt_frame(scratch / "part", 11).empty());
  EXPECT_FALSE(rebuilt_frame(scratch / "part", 20).empty());
  ASSERT_EQ(run(cleanplate_command("rebuild -q '" + model.string() + "' --background-only -o '" +
                                   (scratch / "bg.mp4").string() + "'"),
                scratch)
                .exit_code,
            0);
  EXPECT_EQ(decodable_frames(scratch / "bg.mp4"), 200);
  EXPECT_FALSE(has_partial_files(scratch));

  for (const auto& [arguments, message] :
       std::vector<std::pair<std::string, std::string>>{{"--frames 150:250", "not within the model's 200 frames"},
                                                        {"--frames 5", "--frames must be A:B"},
                                                        {"--frames 9:3", "not within"}}) {
    const ProgramRun bad = run(cleanplate_command("rebuild '" + model.string() + "' " + arguments + " -o '" +
                                                  (scratch / "x.mp4").string() + "'"),
                               scratch);
    EXPECT_EQ(bad.exit_code, 1) << arguments;
    EXPECT_TRUE(one_line(bad.errors) && bad.errors.find(message) != std::string::npos)
        << arguments << ": " << bad.errors;
    EXPECT_FALSE(fs::exists(scratch / "x.mp4"));
  }
}

// Damaged files: numpy rewrites a real model with one thing wrong; each gives one clear line.
TEST(Model, DamagedFilesGiveOneClearLine) {
  const fs::path scratch = scratch_folder(), out = scratch / "out";
  ASSERT_EQ(separate("--frames 30", out).exit_code, 0);
  const fs::path model = out / "model.npz";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"d['version'] = np.int64(2)", "model format version 2 is not supported"},
      {"d['shape'] = np.array([30, 1 << 20, 1 << 20, 1])", "absurd"},
      {"d['format'] = np.array('something else')", "not a cleanplate model"},
      {"d['foreground_offsets'] = d['foreground_offsets'][::-1].copy()", "do not rise from 0"},
      {"d['foreground_mask'] = np.zeros_like(d['foreground_mask']) + 255", "bitmap and value count disagree"},
      {"d['U'] = d['U'][:-1]", "'U' has shape"},
      {"d['V'] = d['V'].astype(np.float64)", "'V' has dtype <f8"},
      {"del d['S']", "no array 'S'"},
  };
  for (const auto& [change, message] : cases) {
    const fs::path damaged = scratch / "damaged.npz";
    const std::string script = "import numpy as np, sys; d = dict(np.load(sys.argv[1])); " + change +
                               "; np.savez_compressed(sys.argv[2], **d)";
    ASSERT_EQ(run(std::string(CLEANPLATE_PYTHON) + " -c \"" + script + "\" '" + model.string() + "' '" +
                      damaged.string() + "'",
                  scratch)
                  .exit_code,
              0)
        << change;
    for (const std::string& command : {"info '" + damaged.string() + "'", "rebuild '" + damaged.string() + "' -o '" +
                                                                              (scratch / "x.mp4").string() + "'"}) {
      const ProgramRun result = run(cleanplate_command(command), scratch);
      EXPECT_EQ(result.exit_code, 1) << change;
      EXPECT_TRUE(one_line(result.errors) && result.errors.find(message) != std::string::npos)
          << change << ": " << result.errors;
    }
  }
  // Truncated at 25 lengths from empty to one byte short.
  const std::string bytes = read_text(model);
  for (std::size_t length = 0; length < bytes.size(); length += bytes.size() / 24) {
    std::ofstream(scratch / "cut.npz", std::ios::binary) << bytes.substr(0, length);
    const ProgramRun result = run(cleanplate_command("info '" + (scratch / "cut.npz").string() + "'"), scratch);
    EXPECT_EQ(result.exit_code, 1) << length;
    EXPECT_TRUE(one_line(result.errors)) << length << ": " << result.errors;
  }
  EXPECT_FALSE(fs::exists(scratch / "x.mp4"));
}

}  // namespace
}  // namespace cleanplate::testing
