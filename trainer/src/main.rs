//! `train`: learns SIE (or VICReg, SimCLR, EquiMod...) representations from a dataset in the
//! official 3DIEBench layout. See `train --help`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // SAFETY: first statement of main: no other thread exists yet.
    unsafe { kernels::prefer_single_candle_thread() };
    kernels::keep_freed_memory();
    trainer::exit_code(run())
}

fn run() -> anyhow::Result<()> {
    let args = trainer::config::TrainArgs::parse();
    // One of several data-parallel ranks when a launcher (mpirun, srun, torchrun) started it.
    let world = comm::World::from_env(args.device != trainer::config::DeviceKind::Cpu)?;
    let group = world.group();
    let summary = world.finish(trainer::train::run(&args, &group))?;
    if !group.is_main() {
        return Ok(());
    }
    eprintln!(
        "done: epochs {}..{}, {} steps, {:.1} images/s; outputs in {}",
        summary.start_epoch,
        summary.epochs_done,
        summary.steps,
        summary.images_per_s,
        summary.exp_dir.display()
    );
    if !args.quiet {
        eprint!("{}", trainer::closing::next_steps(&args));
    }
    Ok(())
}
