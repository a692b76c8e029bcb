// model.npz end to end: separate -> rebuild round trips (PSNR, exactness, compression ratio), the
// numpy snippet of docs/FORMAT.md against cleanplate's rebuild, `info`, and damaged model files.
#include <tuple>

#include "cleanplate/io/model_file.hpp"
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

// The snippets, taken from docs/FORMAT.md itself (version 2's first, then version 1's), run by
// Debian's numpy (and ffmpeg's command for version 2's stream).
TEST(Model, NumpySnippetEqualsCleanplateRebuild) {
  const std::string doc = read_text(fs::path(CLEANPLATE_SOURCE_DIR) / "docs/FORMAT.md");
  const fs::path scratch = scratch_folder();
  std::size_t from_here = 0;
  for (const int version : {2, 1}) {
    const auto begin = doc.find("```python\n", from_here) + 10, end = doc.find("```", begin);
    ASSERT_NE(begin, std::string::npos + 10);
    from_here = end + 3;
    std::string snippet = doc.substr(begin, end - begin);
    for (const auto& [from, to] :
         {std::pair<std::string, std::string>{"\"out/model.npz\"", "sys.argv[1]"}, {"j = 0", "j = int(sys.argv[2])"}}) {
      ASSERT_NE(snippet.find(from), std::string::npos) << from;
      snippet.replace(snippet.find(from), from.size(), to);
    }
    const fs::path script = scratch / ("snippet" + std::to_string(version) + ".py");
    std::ofstream(script) << "import sys\n" << snippet << "np.save(sys.argv[3], frame)\n";

    const std::vector<std::string> settings =
        version == 2 ? std::vector<std::string>{"", "--color --rank 2 --quality 30"}
                     : std::vector<std::string>{"--model-version 1 --color --rank 2 --factors int8 --foreground-step 5",
                                                "--factors f32 --lossless-foreground"};
    for (const std::string& setting : settings) {
      // 60 frames keep it quick under the sanitizers; the frames checked are the first, one inside, the last
      const fs::path out = scratch / "out", rebuilt = scratch / "rebuilt";
      fs::remove_all(out), fs::remove_all(rebuilt);
      ASSERT_EQ(separate("--frames 60 " + setting, out).exit_code, 0) << setting;
      EXPECT_EQ(io::read_model_file(out / "model.npz").version, version) << setting;
      ASSERT_EQ(
          run(cleanplate_command("rebuild -q '" + (out / "model.npz").string() + "' -o '" + rebuilt.string() + "'"),
              scratch)
              .exit_code,
          0);
      for (const long j : {0L, 37L, 59L}) {
        const fs::path npy = scratch / "frame.npy";
        const ProgramRun python =
            run(std::string(CLEANPLATE_PYTHON) + " '" + script.string() + "' '" + (out / "model.npz").string() + "' " +
                    std::to_string(j) + " '" + npy.string() + "'",
                scratch);
        ASSERT_EQ(python.exit_code, 0) << python.errors;
        const io::NpyArray array = io::parse_npy(read_text(npy), npy.string());
        const cv::Mat ours = rebuilt_frame(rebuilt, j + 1);
        ASSERT_EQ(array.dtype, "|u1");
        ASSERT_EQ(array.shape, (std::vector<std::int64_t>{ours.rows, ours.cols, ours.channels()}));
        EXPECT_EQ(std::memcmp(array.bytes.data(), ours.data, array.bytes.size()), 0)
            << "frame " << j << " with '" << setting << "'";
      }
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
  for (const char* expected :
       {"version 2", "200 at 25 fps, 320x240, grey", "rank 2, factors int16",
        "residual against the background as H.264 (libx264), quality 23", "PSNR", "foreground_video"})
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

// Model options out of range end before any work, in one line, with nothing written.
TEST(Model, BadModelOptionsGiveOneLine) {
  const fs::path scratch = scratch_folder(), out = scratch / "out";
  for (const auto& [arguments, message] :
       std::vector<std::pair<std::string, std::string>>{{"--quality 52", "--quality must be between 0 and 51"},
                                                        {"--model-version 3", "--model-version must be 1 or 2"},
                                                        {"--model-preset bogus", "--model-preset must be one of"},
                                                        {"--factors int16", "--factors must be f32, f16 or int8"}}) {
    const ProgramRun result = separate(arguments, out);
    EXPECT_EQ(result.exit_code, 1) << arguments;
    EXPECT_TRUE(one_line(result.errors) && result.errors.find(message) != std::string::npos)
        << arguments << ": " << result.errors;
    EXPECT_FALSE(fs::exists(out / "model.npz")) << arguments;
  }
}

// Damaged files: numpy rewrites a real model with one thing wrong; each gives one clear line.
TEST(Model, DamagedFilesGiveOneClearLine) {
  const fs::path scratch = scratch_folder(), out = scratch / "out";
  ASSERT_EQ(separate("--frames 30", out).exit_code, 0);
  ASSERT_EQ(separate("--frames 30 --model-version 1", scratch / "v1").exit_code, 0);
  const fs::path model = out / "model.npz";
  const std::vector<std::tuple<int, std::string, std::string>> cases = {
      {2, "d['version'] = np.int64(3)", "model format version 3 is not supported"},
      {2, "d['shape'] = np.array([30, 1 << 20, 1 << 20, 1])", "absurd"},
      {2, "d['format'] = np.array('something else')", "not a cleanplate model"},
      {2, "d['foreground_packets'] = d['foreground_packets'][::-1].copy()", "do not rise from 0"},
      {2, "d['foreground_video'] = d['foreground_video'][:-1]", "'foreground_video' has shape"},
      {2, "d['factors'] = np.array('f16')", "do not belong in version 2"},
      {2, "d['U'] = d['U'][:-1]", "'U' has shape"},
      {2, "d['V'] = d['V'].astype(np.float64)", "'V' has dtype <f8"},
      {2, "del d['S']", "no array 'S'"},
      {1, "d['foreground_offsets'] = d['foreground_offsets'][::-1].copy()", "do not rise from 0"},
      {1, "d['foreground_mask'] = np.zeros_like(d['foreground_mask']) + 255", "bitmap and value count disagree"},
  };
  for (const auto& [version, change, message] : cases) {
    const fs::path damaged = scratch / "damaged.npz";
    const fs::path source = version == 2 ? model : scratch / "v1" / "model.npz";
    const std::string script = "import numpy as np, sys; d = dict(np.load(sys.argv[1])); " + change +
                               "; np.savez_compressed(sys.argv[2], **d)";
    ASSERT_EQ(run(std::string(CLEANPLATE_PYTHON) + " -c \"" + script + "\" '" + source.string() + "' '" +
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
