use crate::helpers::spawn_app;

#[tokio::test]
async fn health_answers_ok_when_database_answers() {
    let app = spawn_app().await;

    let response = app.get("/healthz").await;

    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.text().await.expect("body"), "ok\n");
}
