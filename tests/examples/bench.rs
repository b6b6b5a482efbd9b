//! `make bench`: every workload once per contender, each on a fresh etcd + kube-apiserver;
//! a markdown table per workload on stdout, JSON and SVG charts under `target/bench/`.
//!
//! ```text
//! cargo run --release -p kcm-tests --example bench -- [--bench=W,W...] [--quick] [--key=value ...] [CONTENDER ...]
//!   W          deployments endpoints namespace podgc scale floor (the default set, "all"),
//!              replicasets virtual-node (on request)
//!   CONTENDER  upstream | upstream-protobuf | debug | release | PATH-to-a-kcm-rs-binary
//!              (default: upstream release)
//!   --quick    small sizes everywhere (a few minutes in all)
//!   sizes      --deployments=200 --deployment-replicas=10 --services=500 --pods-per-service=20
//!              --namespace-objects=5000 --podgc-pods=20000 --podgc-threshold=1000
//!              --sizes=5000,10000,20000,40000 --idle=60 --replicasets=200 --rs-replicas=5 --vn-pods=2000
//!              --nodes=10 (virtual nodes) and --*-namespaces
//!   limits     --qps --burst --workers (every workload; defaults per workload: deployments
//!              100/200, endpoints 20/30, namespace 20/30, podgc 200/300, scale 20/30;
//!              5 workers, 10 for namespace), --unlimited-qps=10000 --unlimited-burst=20000 (floor)
//!   other      --timeout=900 (seconds per wait) --settle=5 (seconds before steady RSS)
//! ```
//!
//! What each workload does and measures: the module docs of tests/src/bench/*.rs.

use std::time::Instant;

use testenv::bench::{
    self, Context, Section, deployments, endpoints,
    flags::Flags,
    floor, namespace, podgc, replicasets,
    report::{Machine, Report, load_average},
    scale, virtual_node,
};

const DEFAULT_SET: [&str; 6] = [
    "deployments",
    "endpoints",
    "namespace",
    "podgc",
    "scale",
    "floor",
];
const ON_REQUEST: [&str; 2] = ["replicasets", "virtual-node"];

struct Plan {
    deployments: deployments::Settings,
    endpoints: endpoints::Settings,
    namespace: namespace::Settings,
    podgc: podgc::Settings,
    scale: scale::Settings,
    floor: floor::Settings,
    replicasets: replicasets::Settings,
    virtual_node: virtual_node::Settings,
}

fn selected(flags: &Flags) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = flags.list("bench", &[])?;
    let mut out = Vec::new();
    for name in names {
        match name.as_str() {
            "all" | "" => out.extend(DEFAULT_SET.iter().map(|s| (*s).to_owned())),
            n if DEFAULT_SET.contains(&n) || ON_REQUEST.contains(&n) => out.push(name),
            n => anyhow::bail!(
                "--bench={n}: unknown workload; one of {} (default set, or all) or {}",
                DEFAULT_SET.join(" "),
                ON_REQUEST.join(" ")
            ),
        }
    }
    if out.is_empty() {
        out.extend(DEFAULT_SET.iter().map(|s| (*s).to_owned()));
    }
    Ok(out)
}

async fn run(ctx: &Context, plan: &Plan, workload: &str) -> Section {
    match workload {
        "deployments" => deployments::run(ctx, &plan.deployments).await,
        "endpoints" => endpoints::run(ctx, &plan.endpoints).await,
        "namespace" => namespace::run(ctx, &plan.namespace).await,
        "podgc" => podgc::run(ctx, &plan.podgc).await,
        "scale" => scale::run(ctx, &plan.scale).await,
        "floor" => floor::run(ctx, &plan.floor).await,
        "replicasets" => replicasets::run(ctx, &plan.replicasets).await,
        _ => virtual_node::run(ctx, &plan.virtual_node).await,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let flags = Flags::parse(std::env::args().skip(1))?;
    let quick = flags.switch("quick")?;
    let workloads = selected(&flags)?;
    let plan = Plan {
        deployments: deployments::Settings::from_flags(&flags, quick)?,
        endpoints: endpoints::Settings::from_flags(&flags, quick)?,
        namespace: namespace::Settings::from_flags(&flags, quick)?,
        podgc: podgc::Settings::from_flags(&flags, quick)?,
        scale: scale::Settings::from_flags(&flags, quick)?,
        floor: floor::Settings::from_flags(&flags, quick)?,
        replicasets: replicasets::Settings::from_flags(&flags, quick)?,
        virtual_node: virtual_node::Settings::from_flags(&flags, quick)?,
    };
    flags.finish()?;
    let bin_dir = bench::k8s_bin_dir()?;
    let contenders = bench::contender::contenders(flags.words(), &bin_dir)?;
    let ctx = Context {
        bin_dir,
        contenders,
        out_dir: bench::target_dir().join("bench"),
    };
    let started = jiff::Timestamp::now();
    let clock = Instant::now();
    let mut machine = Machine::now();
    let mut report = Report {
        started: started.to_string(),
        elapsed_s: 0.0,
        machine: machine.clone(),
        settings: Default::default(),
        measurements: Vec::new(),
        skipped: Vec::new(),
    };
    let mut markdown = String::new();
    let mut charts = Vec::new();
    for workload in &workloads {
        let section = run(&ctx, &plan, workload).await;
        let text = section.markdown();
        println!("\n{text}");
        markdown.push_str(&text);
        markdown.push('\n');
        match section.draw(&ctx.out_dir) {
            Ok(paths) => charts.extend(paths),
            Err(e) => tracing::warn!("drawing the {workload} chart: {e:#}"),
        }
        report
            .settings
            .insert(workload.clone(), section.heading.clone());
        report.measurements.extend(section.measurements);
        report.skipped.extend(section.skipped);
        // Written after every workload, so an interrupted run keeps what it measured.
        report.elapsed_s = clock.elapsed().as_secs_f64();
        machine.load_end = load_average();
        report.machine = machine.clone();
        report.write_json(&ctx.out_dir)?;
    }
    let summary = format!(
        "Run of {started}, {:.0} s; {}.\n",
        report.elapsed_s,
        report.machine.describe()
    );
    println!("{summary}");
    std::fs::write(
        ctx.out_dir.join("latest.md"),
        format!("{summary}\n{markdown}"),
    )?;
    let json = report.write_json(&ctx.out_dir)?;
    println!("JSON: {}", json.display());
    for chart in &charts {
        println!("chart: {}", chart.display());
    }
    let failed: Vec<_> = report
        .skipped
        .iter()
        .filter(|s| s.reason.starts_with("failed"))
        .collect();
    anyhow::ensure!(
        failed.is_empty(),
        "{} run(s) failed (see above)",
        failed.len()
    );
    Ok(())
}
