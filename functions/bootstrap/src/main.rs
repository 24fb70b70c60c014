#[tokio::main]
async fn main() -> Result<(), rehearsal_lambda::Error> {
    rehearsal_lambda::run().await
}
