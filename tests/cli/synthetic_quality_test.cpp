// Quality on synthetic scenes of the failure cases of real ones (cleanplate-synth --waving,
// --exposure, --shadows): `cleanplate eval` scores both paths against the truth and OpenCV's MOG2 and
// KNN in the same run. Labelled "heavy": the sanitizer leg of CI leaves them out (a few minutes of
// evaluation under it; the code they run is the synthetic tests' of cli_tests, and the rules' own
// unit tests run there).
#include <tuple>

#include "cli_test_support.hpp"

namespace cleanplate::testing {
namespace {

// `cleanplate eval --method robust,live` on a 120-frame synthetic scene made with `synth_options`, in
// scratch/NAME; returns eval.csv (the scene is made on the first call, evaluated on every call).
std::string eval_synthetic(const fs::path& scratch, const std::string& name, const std::string& synth_options,
                           const std::string& eval_options) {
  const fs::path scene = scratch / name,
                 out = scratch / ("eval-" + std::to_string(std::hash<std::string>{}(eval_options)));
  if (!fs::exists(scene)) {
    const std::string make = std::string(CLEANPLATE_SYNTH) + " '" + scene.string() + "' --frames 120 " + synth_options;
    EXPECT_EQ(std::system((make + " --video '' > /dev/null").c_str()), 0);
  }
  const ProgramRun result = run(cleanplate_command("eval '" + scene.string() + "' -o '" + out.string() +
                                                   "' --method robust,live " + eval_options),
                                scratch);
  EXPECT_EQ(result.exit_code, 0) << result.errors;
  const std::string csv = read_text(out / "eval.csv");
  std::printf("%s %s %s:\n%s", name.c_str(), synth_options.c_str(), eval_options.c_str(), csv.c_str());
  return csv;
}

// A background that sways by up to 2 pixels, as leaves and ripples do (cleanplate-synth --waving): a
// change the background shows a pixel or two away is background (MaskOptions::neighbour_radius), in
// both paths; without that test the texture's edges light up. `eval` runs OpenCV's MOG2 beside them.
TEST(SyntheticScene, SwayingBackgroundIsBackgroundInBothPaths) {
  const fs::path scratch = scratch_folder();
  const std::string with = eval_synthetic(scratch, "swaying", "--waving 2", ""),
                    without = eval_synthetic(scratch, "swaying", "--waving 2", "--neighbours 0 --no-opencv");
  const double mog2 = eval_f_measure(with, "swaying", "opencv MOG2");
  for (const char* method : {"cleanplate robust", "cleanplate live"})
    EXPECT_GE(eval_f_measure(with, "swaying", method), eval_f_measure(without, "swaying", method) + 0.01) << method;
  EXPECT_GE(eval_f_measure(with, "swaying", "cleanplate robust"), std::max(0.85, mog2));
  // Measured: robust 0.885 -> 0.906, live 0.676 -> 0.712, MOG2 0.695. live stays far below robust:
  // thin lines that sway by more than their width leave the per-pixel mode, which a second mode per
  // pixel would hold, and objects present in the warm-up leave ghosts (issue 35).
  EXPECT_GE(eval_f_measure(with, "swaying", "cleanplate live"), 0.8 * mog2);
}

// The camera's gain rises while a large dark object crosses (cleanplate-synth --exposure): both paths
// fit each frame's gain on the pixels that look like background, so the rest of the frame stays
// background. At +80% the bright parts pass white: the frame holds 255 where the model says more,
// which is no change (the masks compare with the background clipped to what a camera shows).
// Measured, robust / live / MOG2 / KNN: +30% 0.999 / 0.950 / 0.51 / 0.60; +80% 0.870 / 0.936 / 0.29 /
// 0.51 (200 frames before the clipping: robust 0.829, live 0.869).
TEST(SyntheticScene, ExposureStepIsFollowedInBothPaths) {
  const fs::path scratch = scratch_folder();
  for (const auto& [gain, robust, live] : {std::tuple{"0.3", 0.95, 0.9}, std::tuple{"0.8", 0.85, 0.88}}) {
    const std::string name = std::string("exposure") + gain;
    const std::string csv = eval_synthetic(scratch, name, std::string("--exposure ") + gain, "");
    const double opencv = std::max(eval_f_measure(csv, name, "opencv MOG2"), eval_f_measure(csv, name, "opencv KNN"));
    EXPECT_GE(eval_f_measure(csv, name, "cleanplate robust"), std::max(robust, opencv)) << gain;
    EXPECT_GE(eval_f_measure(csv, name, "cleanplate live"), std::max(live, opencv)) << gain;
  }
}

// Each object casts a shadow that dims the light by 40% (cleanplate-synth --shadows; the truth labels
// it 50, as CDnet does): both paths label it 127 (MaskOptions::shadows), which `eval` scores as
// background. In colour, as the scene's flat blocks give a grey shadow nothing else to tell it by.
// Measured (120 frames), without -> with: robust 0.725 -> 0.889, live 0.567 -> 0.617; MOG2 0.70, KNN
// 0.72. live stays below MOG2 here: the large objects that crawl through its warm-up leave ghosts.
TEST(SyntheticScene, CastShadowsAreLabelledInBothPaths) {
  const fs::path scratch = scratch_folder();
  const std::string with = eval_synthetic(scratch, "shadows", "--shadows 0.4", "--color"),
                    without = eval_synthetic(scratch, "shadows", "--shadows 0.4", "--color --no-shadows --no-opencv");
  const double opencv =
      std::max(eval_f_measure(with, "shadows", "opencv MOG2"), eval_f_measure(with, "shadows", "opencv KNN"));
  const auto f = [&](const std::string& csv, const char* method) { return eval_f_measure(csv, "shadows", method); };
  EXPECT_GE(f(with, "cleanplate robust"), f(without, "cleanplate robust") + 0.1);
  EXPECT_GE(f(with, "cleanplate robust"), std::max(0.85, opencv));
  EXPECT_GE(f(with, "cleanplate live"), f(without, "cleanplate live") + 0.03);
  EXPECT_GE(f(with, "cleanplate live"), 0.8 * opencv);
}

}  // namespace
}  // namespace cleanplate::testing
