-- DropIndex
DROP INDEX "localization_measure_checkpoint_id_method_language_code_idx";

-- AlterTable
ALTER TABLE "localization_measure" ADD COLUMN     "template_set" TEXT NOT NULL DEFAULT 'trained';

-- CreateIndex
CREATE INDEX "localization_measure_checkpoint_id_method_language_code_tem_idx" ON "localization_measure"("checkpoint_id", "method", "language_code", "template_set");
