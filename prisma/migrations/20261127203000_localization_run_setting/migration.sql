-- DropIndex
DROP INDEX "localization_measure_checkpoint_id_method_language_code_tem_idx";

-- DropIndex
DROP INDEX "localization_result_checkpoint_id_method_fact_id_language_c_key";

-- AlterTable
ALTER TABLE "localization_measure" ADD COLUMN     "steps" INTEGER NOT NULL DEFAULT 20,
ADD COLUMN     "target_mode" TEXT NOT NULL DEFAULT 'clean';

-- AlterTable
ALTER TABLE "localization_result" ADD COLUMN     "steps" INTEGER NOT NULL DEFAULT 20,
ADD COLUMN     "target_mode" TEXT NOT NULL DEFAULT 'clean';

-- CreateIndex
CREATE INDEX "localization_measure_checkpoint_id_method_steps_target_mode_idx" ON "localization_measure"("checkpoint_id", "method", "steps", "target_mode", "language_code", "template_set");

-- CreateIndex
CREATE UNIQUE INDEX "localization_result_checkpoint_id_method_steps_target_mode__key" ON "localization_result"("checkpoint_id", "method", "steps", "target_mode", "fact_id", "language_code");

