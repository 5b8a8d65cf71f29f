-- CreateTable
CREATE TABLE "fact_check_evaluation" (
    "id" BIGSERIAL NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "language_code" TEXT NOT NULL,
    "method" TEXT NOT NULL,
    "threshold" DOUBLE PRECISION NOT NULL,
    "rho" DOUBLE PRECISION NOT NULL,
    "seed" INTEGER NOT NULL,
    "results" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "fact_check_evaluation_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "fact_check_evaluation_checkpoint_id_language_code_created_a_idx" ON "fact_check_evaluation"("checkpoint_id", "language_code", "created_at");

-- AddForeignKey
ALTER TABLE "fact_check_evaluation" ADD CONSTRAINT "fact_check_evaluation_checkpoint_id_fkey" FOREIGN KEY ("checkpoint_id") REFERENCES "checkpoint"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
