-- CreateTable
CREATE TABLE "edit_evaluation" (
    "id" BIGSERIAL NOT NULL,
    "checkpoint_id" INTEGER NOT NULL,
    "source_language" TEXT NOT NULL,
    "templates" TEXT NOT NULL,
    "method" TEXT NOT NULL,
    "steps" INTEGER NOT NULL,
    "seed" TEXT NOT NULL,
    "results" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "edit_evaluation_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "edit_evaluation_checkpoint_id_created_at_idx" ON "edit_evaluation"("checkpoint_id", "created_at");

-- AddForeignKey
ALTER TABLE "edit_evaluation" ADD CONSTRAINT "edit_evaluation_checkpoint_id_fkey" FOREIGN KEY ("checkpoint_id") REFERENCES "checkpoint"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
