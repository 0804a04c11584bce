//! The load command's run, smaller: webhook deliveries with duplicates and
//! every order, concurrent, beside dashboard reads. The full one is
//! `cargo bench -p callops-tests --bench load`.

use callops_tests::{TestHost, load::webhook_load};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicated_reordered_deliveries_leave_every_call_right() {
    let host = TestHost::start(false).await;
    let report = webhook_load(&host, 330, 60, 7).await;
    assert!(report.deliveries == 330 && report.duplicates * 10 >= report.deliveries, "a tenth are duplicates: {report:?}");
    assert_eq!((report.webhook_5xx, report.webhook_other, report.read_5xx), (0, 0, 0), "{report:?}");
    assert!(report.reads > 0, "the dashboard read during the load");
    assert_eq!(report.wrong_calls, Vec::<String>::new());
    assert_eq!(report.rollup_drift, 0);
}
