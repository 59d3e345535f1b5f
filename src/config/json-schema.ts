import { z } from "zod";
import { configSchema } from "./schema.js";

/** The JSON Schema of the configuration file, for editors (packaging/sipban.schema.json). */
export function configJsonSchema(): unknown {
  return {
    ...z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }),
    title: "sipban configuration",
  };
}
