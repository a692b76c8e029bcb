// `mpirun -np N cleanplate separate` on one machine (--oversubscribe): the ranks' outputs against one
// process's, a rank killed mid-run, a failing rank, Ctrl-C on mpirun. Built when CLEANPLATE_MPI is on;
// without it, a process started as one of several ranks refuses with one line.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <functional>
#include <thread>

#include "cleanplate/io/model_file.hpp"
#include "cli_test_support.hpp"

namespace cleanplate::testing {
namespace {

#ifdef CLEANPLATE_MPIEXEC

// The masks' F-measure against the scene's ground truth after the same warm-up for every run.
double scene_f(const fs::path& scene, const fs::path& out) {
  return score_after_warmup(scene, out / "masks", 0, 200).f_measure();
}

// The model rebuilt as PNG frames, against the decoded input.
double rebuilt_psnr(const std::vector<cv::Mat>& frames, const fs::path& out) {
  const ProgramRun rebuild = run(
      cleanplate_command("rebuild -q '" + (out / "model.npz").string() + "' -o '" + (out / "rebuilt").string() + "/'"),
      out);
  EXPECT_EQ(rebuild.exit_code, 0) << rebuild.errors;
  return video_psnr(frames, out / "rebuilt");
}

TEST(Mpi, TwoAndThreeRanksGiveWhatOneProcessGives) {
  const fs::path scene = synthetic_scene(), scratch = scratch_folder();
  const std::string input = "separate '" + (scene / "scene.mkv").string() + "' --png -q -o ";
  const ProgramRun one = run(cleanplate_command(input + "'" + (scratch / "one").string() + "'"), scratch);
  ASSERT_EQ(one.exit_code, 0) << one.errors;
  const std::vector<cv::Mat> frames = decoded_frames((scene / "scene.mkv").string(), false);
  const double f_one = scene_f(scene, scratch / "one"), psnr_one = rebuilt_psnr(frames, scratch / "one");
  const cv::Mat plate_one = cv::imread((scratch / "one/background.png").string(), cv::IMREAD_UNCHANGED);
  for (int ranks : {2, 3}) {
    SCOPED_TRACE(std::to_string(ranks) + " ranks");
    const fs::path out = scratch / ("ranks" + std::to_string(ranks));
    const ProgramRun many = run(mpirun(ranks, input + "'" + out.string() + "'"), scratch);
    ASSERT_EQ(many.exit_code, 0) << many.errors;
    const double f = scene_f(scene, out), psnr = rebuilt_psnr(frames, out);
    std::printf("%d ranks: F %.5f (one process %.5f), model PSNR %.3f dB (%.3f)\n", ranks, f, f_one, psnr, psnr_one);
    EXPECT_NEAR(f, f_one, 0.002);
    EXPECT_NEAR(psnr, psnr_one, 0.1);
    EXPECT_NEAR(summary_number(out / "summary.json", "psnr"), psnr, 0.01);  // what it reports is what it wrote
    const cv::Mat plate = cv::imread((out / "background.png").string(), cv::IMREAD_UNCHANGED);
    ASSERT_EQ(plate.size(), plate_one.size());
    EXPECT_LE(cv::norm(plate, plate_one, cv::NORM_L1) / static_cast<double>(plate.total()), 0.5);
    EXPECT_EQ(decodable_frames(out / "mask.mp4"), 200);
    EXPECT_EQ(decodable_frames(out / "foreground.mp4"), 200);
    EXPECT_TRUE(fs::exists(out / "preview.png"));
    EXPECT_FALSE(fs::exists(out / ".cleanplate-parts"));
    EXPECT_FALSE(has_partial_files(out));
    const std::string summary = read_text(out / "summary.json");
    EXPECT_NE(summary.find("\"rank\": " + std::to_string(ranks - 1)), std::string::npos) << summary;
  }
}

// The same command as a child process, its stderr in `errors`.
pid_t start(const std::string& command, const fs::path& errors) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", ("exec " + command + " 2> '" + errors.string() + "' > /dev/null").c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return child;
}

// The process of rank `rank` whose command line names `output`; 0 until it exists.
pid_t rank_process(int rank, const fs::path& output) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string environment = read_text(entry.path() / "environ"), command = read_text(entry.path() / "cmdline");
    if (command.find(output.string()) != std::string::npos && command.find("mpirun") == std::string::npos &&
        environment.find("OMPI_COMM_WORLD_RANK=" + std::to_string(rank) + '\0') != std::string::npos)
      return std::stoi(name);
  }
  return 0;
}

// The exit code of `child`, killed (and failed) after two minutes: nothing may hang.
int exit_code(pid_t child) {
  int status = 0;
  pid_t ended = 0;
  for (int i = 0; i < 2400 && (ended = ::waitpid(child, &status, WNOHANG)) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (ended == 0) {
    ADD_FAILURE() << "still running after 2 minutes";
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A scene long enough to interrupt: 640x480, 400 frames, H.264 (quick to decode).
fs::path long_scene() {
  const fs::path scene = scratch_folder() / "scene";
  EXPECT_EQ(std::system((std::string(CLEANPLATE_SYNTH) + " '" + scene.string() +
                         "' --width 640 --height 480 --frames 400 --video scene.mp4 --video-only > /dev/null")
                            .c_str()),
            0);
  return scene / "scene.mp4";
}

TEST(Mpi, KilledRankEndsTheJobWithoutCompleteLookingOutputs) {
  const fs::path input = long_scene(), out = input.parent_path().parent_path() / "out";
  const pid_t job = start(mpirun(2, "separate '" + input.string() + "' -q -o '" + out.string() + "'"),
                          out.parent_path() / "errors.txt");
  pid_t victim = 0;
  for (int i = 0; i < 600 && !(victim = rank_process(1, out)); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_NE(victim, 0) << "rank 1 never started";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ::kill(victim, SIGKILL);
  EXPECT_NE(exit_code(job), 0);
  const std::string errors = read_text(out.parent_path() / "errors.txt");
  EXPECT_NE(errors.find("rank 1"), std::string::npos) << errors;
  for (const char* name : {"mask.mp4", "foreground.mp4", "model.npz", "background.png", "summary.json"})
    EXPECT_FALSE(fs::exists(out / name)) << name;
}

TEST(Mpi, FailingRankNamesItselfAndWhy) {
  const fs::path scratch = scratch_folder();
  const ProgramRun result =
      run(mpirun(2, "separate /nonexistent.mp4 -q -o '" + (scratch / "out").string() + "'"), scratch);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.errors.find(" of 2: cannot open '/nonexistent.mp4': no such file"), std::string::npos)
      << result.errors;
  EXPECT_FALSE(fs::exists(scratch / "out/summary.json"));
}

// Runs separate on the long scene as 2 ranks, and once both have split frames for a while sends `signal_number` to the
// processes `targets` names: the output folder.
fs::path interrupt_split(int signal_number,
                         const std::function<std::vector<pid_t>(pid_t job, const fs::path& out)>& targets) {
  const fs::path input = long_scene(), out = input.parent_path().parent_path() / "out";
  const pid_t job = start(mpirun(2, "separate '" + input.string() + "' -q --png -o '" + out.string() + "'"),
                          out.parent_path() / "errors.txt");
  // Both ranks have split frames once each has written the PNG mask of its fifth frame (rank 0
  // splits frames 1-200, rank 1 201-400): polled, as a fixed wait lets a fast machine finish first.
  bool splitting = false;
  for (int i = 0; i < 6000 && !splitting; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    splitting = fs::exists(out / "masks/bin000005.png") && fs::exists(out / "masks/bin000205.png");
  }
  EXPECT_TRUE(splitting);
  for (const pid_t target : targets(job, out)) {
    EXPECT_GT(target, 0);  // kill(0) would signal the test itself
    if (target > 0) ::kill(target, signal_number);
  }
  EXPECT_NE(exit_code(job), 0);
  EXPECT_FALSE(has_partial_files(out));
  EXPECT_FALSE(fs::exists(out / ".cleanplate-parts"));
  return out;
}

// What the outputs hold, checked against summary.json: the frames it says were written.
long check_written(const fs::path& out) {
  const long written = static_cast<long>(summary_number(out / "summary.json", "frames_written"));
  if (written == 0) {  // interrupted before rank 0 split a frame, as one process can be
    EXPECT_FALSE(fs::exists(out / "mask.mp4"));
    EXPECT_FALSE(fs::exists(out / "model.npz"));
    return 0;
  }
  EXPECT_EQ(decodable_frames(out / "mask.mp4"), written);
  EXPECT_EQ(std::distance(fs::directory_iterator(out / "masks"), fs::directory_iterator()), written);
  EXPECT_EQ(decodable_frames(out / "foreground.mp4"), written);
  EXPECT_EQ(io::read_model_file(out / "model.npz").frames, written);
  return written;
}

// SIGTERM to every rank (what mpirun forwards on Ctrl-C, and what a batch scheduler sends): each
// stops, and rank 0 joins the parts: the outputs hold the first frames, as one process's would.
TEST(Mpi, SigtermToTheRanksFinalizesTheFirstFrames) {
  const fs::path out = interrupt_split(SIGTERM, [](pid_t, const fs::path& out) {
    return std::vector<pid_t>{rank_process(0, out), rank_process(1, out)};
  });
  ASSERT_NE(read_text(out / "summary.json").find("\"status\": \"interrupted\""), std::string::npos);
  const long written = check_written(out);
  EXPECT_GT(written, 0);
  EXPECT_LT(written, 400);
}

// Ctrl-C on mpirun: Open MPI sends the ranks SIGTERM and, a second later (odls_base_sigkill_timeout),
// SIGKILL. The job ends; what it leaves is valid and says what it holds (the ranks may have finished
// before the signal reached them), or is absent.
TEST(Mpi, CtrlCOnMpirunEndsTheJobWithValidOutputs) {
  const fs::path out = interrupt_split(SIGINT, [](pid_t job, const fs::path&) { return std::vector<pid_t>{job}; });
  if (fs::exists(out / "summary.json"))
    check_written(out);
  else
    for (const char* name : {"mask.mp4", "model.npz"}) EXPECT_FALSE(fs::exists(out / name)) << name;
}

#else  // a build without MPI

TEST(Mpi, BuildWithoutMpiRefusesToRunAsOneOfSeveralRanks) {
  const fs::path scratch = scratch_folder();
  const ProgramRun result =
      run("OMPI_COMM_WORLD_SIZE=2 " + cleanplate_command("separate '" + (synthetic_scene() / "scene.mkv").string() +
                                                         "' -q -o '" + (scratch / "out").string() + "'"),
          scratch);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(one_line(result.errors) && result.errors.find("built without MPI") != std::string::npos) << result.errors;
}

#endif

}  // namespace
}  // namespace cleanplate::testing
