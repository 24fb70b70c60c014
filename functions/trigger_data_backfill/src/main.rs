use rehearsal_lambda::{serve, Error, Step};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve(Step::TriggerDataBackfill).await
}
