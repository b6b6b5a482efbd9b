use tokio_util::sync::CancellationToken;

use super::{scope, stopping};

#[tokio::test]
async fn outside_a_scope_nothing_is_stopping() {
    assert!(!stopping());
}

#[tokio::test]
async fn a_scope_sees_its_token_across_awaits() {
    let token = CancellationToken::new();
    let seen = scope(token.clone(), async {
        let before = stopping();
        token.cancel();
        tokio::task::yield_now().await;
        (before, stopping())
    })
    .await;
    assert_eq!(seen, (false, true));
    assert!(!stopping(), "the scope ends with the future");
}
