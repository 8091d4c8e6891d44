// Generates byte-exact test vectors from Apache Kafka's real
// org.apache.kafka.connect.json.JsonConverter (artifact org.apache.kafka:connect-json).
//
// Run (single-file source launcher, Java 17+):
//   java -cp '<jar dir>/*' GenVectors.java <out.json> [<CASES.md>]
// Normally invoked by gen.sh in this directory, which fetches the jars first.
//
// Output <out.json>: a JSON array, one object per line, in the fixed case order below:
//   {"name": ..., "with_schema": ..., "without_schema": ...,
//    "roundtrip_with_schema": ..., "roundtrip_without_schema": ...}
// Every value is the converter's output bytes decoded as UTF-8 (unmodified), or JSON null
// when the converter returned a Java null. If a step throws, that field is null and an extra
// key "<field>_error" holds "<exception class>: <message>".
//
// Optional <CASES.md>: a Markdown table describing every case's schema and value, rendered
// mechanically from the very objects that were converted (so it cannot drift from the vectors).

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.utils.AppInfoParser;
import org.apache.kafka.connect.data.Date;
import org.apache.kafka.connect.data.Decimal;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.data.Time;
import org.apache.kafka.connect.data.Timestamp;
import org.apache.kafka.connect.json.JsonConverter;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

public class GenVectors {

    static final String TOPIC = "topic";

    record Case(String name, Schema schema, Object value, String notes) {}

    // ---------------------------------------------------------------- helpers to build values

    @SafeVarargs
    static <K, V> LinkedHashMap<K, V> lmap(Object... kv) {
        LinkedHashMap<K, V> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            @SuppressWarnings("unchecked") K k = (K) kv[i];
            @SuppressWarnings("unchecked") V v = (V) kv[i + 1];
            m.put(k, v);
        }
        return m;
    }

    static List<Object> list(Object... items) {
        return new ArrayList<>(Arrays.asList(items)); // allows nulls, fixed order
    }

    static java.util.Date utcDay(int y, int m, int d) {
        return new java.util.Date(LocalDate.of(y, m, d).toEpochDay() * 86_400_000L);
    }

    static final byte[] BYTES = {0, 1, 2, (byte) 255};

    // ---------------------------------------------------------------- the cases, in output order

    static List<Case> cases() {
        List<Case> c = new ArrayList<>();

        // --- primitives
        c.add(new Case("int8", Schema.INT8_SCHEMA, (byte) 12, ""));
        c.add(new Case("int16", Schema.INT16_SCHEMA, (short) -1234, ""));
        c.add(new Case("int32", Schema.INT32_SCHEMA, 123456, ""));
        c.add(new Case("int64", Schema.INT64_SCHEMA, 9007199254740993L, "2^53+1: must not go through f64"));
        c.add(new Case("float32", Schema.FLOAT32_SCHEMA, 3.14f, "Java writes Float.toString(f), not the widened double"));
        c.add(new Case("float64", Schema.FLOAT64_SCHEMA, 2.718281828459045, ""));
        c.add(new Case("float64_integral", Schema.FLOAT64_SCHEMA, 1.0, "integral double keeps '.0'"));
        c.add(new Case("float32_small", Schema.FLOAT32_SCHEMA, 1.0E-7f, "Java scientific form 'd.dE-n'"));
        c.add(new Case("float64_large", Schema.FLOAT64_SCHEMA, 1.0E21, "Java scientific form 'd.dEn' (no '+')"));
        c.add(new Case("boolean_true", Schema.BOOLEAN_SCHEMA, true, ""));
        c.add(new Case("string", Schema.STRING_SCHEMA, "hello \"world\" \\ é 😀 \n\t\u0001 </script>",
                "BMP non-ASCII (é) raw UTF-8; non-BMP (U+1F600) as escaped surrogate pair \\uD83D\\uDE00; \\u0001 escaped; '/' and '<' not escaped"));
        c.add(new Case("bytes", Schema.BYTES_SCHEMA, BYTES.clone(), "standard base64 with padding"));
        c.add(new Case("bytes_bytebuffer", Schema.BYTES_SCHEMA, ByteBuffer.wrap(BYTES.clone()), ""));

        // --- nulls and defaults
        c.add(new Case("optional_string_null", Schema.OPTIONAL_STRING_SCHEMA, null,
                "without_schema is the 4-byte text 'null', not a Java null; but roundtrip_without_schema is a Java null (JSON null read schemaless = tombstone)"));
        c.add(new Case("optional_int32_null", Schema.OPTIONAL_INT32_SCHEMA, null, "as optional_string_null"));
        c.add(new Case("string_with_default",
                SchemaBuilder.string().optional().defaultValue("dflt").build(), null,
                "replace.null.with.default=true (default): null value is written as the schema default"));
        c.add(new Case("int32_with_default_present", SchemaBuilder.int32().defaultValue(7).build(), 42, ""));
        c.add(new Case("schema_metadata",
                SchemaBuilder.string().name("com.example.Name").version(3).doc("a doc")
                        .parameter("p1", "v1").parameter("p2", "v2").build(), "x",
                "schema key order: type, optional, name, version, doc, parameters"));

        // --- arrays
        c.add(new Case("array_int32", SchemaBuilder.array(Schema.INT32_SCHEMA).build(), list(1, 2, 3), ""));
        c.add(new Case("array_empty", SchemaBuilder.array(Schema.INT32_SCHEMA).build(), list(), ""));
        c.add(new Case("array_optional_strings", SchemaBuilder.array(Schema.OPTIONAL_STRING_SCHEMA).build(),
                list("a", null, "c"), ""));

        // --- maps
        c.add(new Case("map_string_keys", SchemaBuilder.map(Schema.STRING_SCHEMA, Schema.INT32_SCHEMA).build(),
                lmap("a", 1, "b", 2), ""));
        c.add(new Case("map_int_keys", SchemaBuilder.map(Schema.INT32_SCHEMA, Schema.STRING_SCHEMA).build(),
                lmap(1, "one", 2, "two"), "non-STRING key schema: written as array of [key, value] pairs"));
        Schema point = SchemaBuilder.struct().name("com.example.Point")
                .field("x", Schema.INT32_SCHEMA).field("y", Schema.INT32_SCHEMA).build();
        c.add(new Case("map_struct_values", SchemaBuilder.map(Schema.STRING_SCHEMA, point).build(),
                lmap("p1", new Struct(point).put("x", 1).put("y", 2)), ""));

        // --- structs
        Schema flat = SchemaBuilder.struct().name("com.example.Flat")
                .field("id", Schema.INT64_SCHEMA)
                .field("name", Schema.STRING_SCHEMA)
                .field("score", Schema.OPTIONAL_FLOAT64_SCHEMA)
                .field("active", Schema.BOOLEAN_SCHEMA)
                .build();
        c.add(new Case("struct_flat", flat,
                new Struct(flat).put("id", 42L).put("name", "Alice").put("score", null).put("active", true),
                "each field schema gets a trailing \"field\" key; roundtrip_without_schema reorders keys (struct read back schemaless as java.util.HashMap)"));

        Schema inner = SchemaBuilder.struct().name("com.example.Inner")
                .field("x", Schema.INT32_SCHEMA).field("y", Schema.STRING_SCHEMA).build();
        Schema item = SchemaBuilder.struct().name("com.example.Item")
                .field("sku", Schema.STRING_SCHEMA).field("qty", Schema.INT32_SCHEMA).build();
        Schema outer = SchemaBuilder.struct().name("com.example.Outer")
                .field("id", Schema.INT32_SCHEMA)
                .field("inner", inner)
                .field("items", SchemaBuilder.array(item).build())
                .field("tags", SchemaBuilder.map(Schema.STRING_SCHEMA, Schema.INT64_SCHEMA).build())
                .build();
        c.add(new Case("struct_nested", outer,
                new Struct(outer)
                        .put("id", 1)
                        .put("inner", new Struct(inner).put("x", 10).put("y", "ten"))
                        .put("items", list(new Struct(item).put("sku", "A1").put("qty", 2),
                                new Struct(item).put("sku", "B2").put("qty", 5)))
                        .put("tags", lmap("k1", 100L, "k2", 200L)),
                "roundtrip_without_schema reorders keys of the items structs (HashMap)"));

        Schema inner2 = SchemaBuilder.struct().name("com.example.Inner2").optional()
                .field("a", Schema.STRING_SCHEMA).build();
        Schema withOpt = SchemaBuilder.struct().name("com.example.WithOptional")
                .field("id", Schema.INT32_SCHEMA).field("nested", inner2).build();
        c.add(new Case("struct_optional_nested_null", withOpt,
                new Struct(withOpt).put("id", 5).put("nested", null), ""));

        // --- logical types
        c.add(new Case("decimal", Decimal.schema(2), new BigDecimal("12345.67"),
                "BASE64 of big-endian two's-complement unscaled value (1234567 = 0x12D687)"));
        c.add(new Case("decimal_negative", Decimal.schema(3), new BigDecimal("-0.001"), "unscaled -1 = 0xFF"));
        c.add(new Case("decimal_zero_scale", Decimal.schema(0), new BigDecimal("123456789012345678901234567890"), ""));
        c.add(new Case("date", Date.SCHEMA, utcDay(2024, 2, 29), "days since epoch = 19782"));
        c.add(new Case("time", Time.SCHEMA, new java.util.Date(((13 * 60 + 45) * 60 + 30) * 1000L + 123),
                "millis since midnight = 49530123"));
        c.add(new Case("timestamp", Timestamp.SCHEMA, new java.util.Date(1700000000123L), ""));
        Schema logicals = SchemaBuilder.struct().name("com.example.Logicals")
                .field("amount", Decimal.builder(2).optional().build())
                .field("day", Date.builder().optional().build())
                .field("at", Time.builder().optional().build())
                .field("ts", Timestamp.builder().optional().build())
                .build();
        c.add(new Case("struct_with_logicals", logicals,
                new Struct(logicals).put("amount", new BigDecimal("12.50")).put("day", null)
                        .put("at", new java.util.Date(49530123L)).put("ts", null),
                "roundtrip_without_schema reorders keys (HashMap)"));

        // --- schemaless
        c.add(new Case("null_schema_null_value", null, null, "converter returns Java null (tombstone) in both modes"));
        c.add(new Case("schemaless_map", null,
                lmap("s", "str", "l", 42L, "d", 1.5, "b", true, "n", null,
                        "list", list(1L, "two", 3.0),
                        "map", lmap("inner", "v", "k", 7L)),
                "both roundtrips reorder object keys (read into java.util.HashMap)"));
        c.add(new Case("schemaless_list", null, list(1L, "two", true, null, 2.5), ""));
        c.add(new Case("schemaless_string", null, "hello", ""));
        c.add(new Case("schemaless_long", null, 42L, ""));

        // ================================================================ extra edge cases

        // integer extremes
        c.add(new Case("int8_min", Schema.INT8_SCHEMA, Byte.MIN_VALUE, ""));
        c.add(new Case("int16_max", Schema.INT16_SCHEMA, Short.MAX_VALUE, ""));
        c.add(new Case("int32_min", Schema.INT32_SCHEMA, Integer.MIN_VALUE, ""));
        c.add(new Case("int64_min", Schema.INT64_SCHEMA, Long.MIN_VALUE, ""));
        c.add(new Case("int64_max", Schema.INT64_SCHEMA, Long.MAX_VALUE, ""));
        c.add(new Case("boolean_false", Schema.BOOLEAN_SCHEMA, false, ""));

        // float formatting (Jackson -> Double.toString / Float.toString)
        c.add(new Case("float32_0_1", Schema.FLOAT32_SCHEMA, 0.1f, "must be 0.1, not 0.10000000149011612"));
        c.add(new Case("float32_max", Schema.FLOAT32_SCHEMA, Float.MAX_VALUE, ""));
        c.add(new Case("float32_1e7", Schema.FLOAT32_SCHEMA, 1.0E7f, "switch to scientific at >= 1e7"));
        c.add(new Case("float64_0_1_plus_0_2", Schema.FLOAT64_SCHEMA, 0.1 + 0.2, ""));
        c.add(new Case("float64_0_001", Schema.FLOAT64_SCHEMA, 0.001, "smallest plain-notation magnitude"));
        c.add(new Case("float64_below_0_001", Schema.FLOAT64_SCHEMA, 9.999E-4, "< 1e-3 -> scientific"));
        c.add(new Case("float64_9999999", Schema.FLOAT64_SCHEMA, 9999999.0, "largest plain-notation"));
        c.add(new Case("float64_1e7", Schema.FLOAT64_SCHEMA, 1.0E7, ">= 1e7 -> scientific"));
        c.add(new Case("float64_123456789", Schema.FLOAT64_SCHEMA, 123456789.0, ""));
        c.add(new Case("float64_neg_zero", Schema.FLOAT64_SCHEMA, -0.0, "written -0.0; reads back as 0.0 (parsed via BigDecimal, which has no -0)"));
        c.add(new Case("float64_min_subnormal", Schema.FLOAT64_SCHEMA, Double.MIN_VALUE,
                "Java prints 4.9E-324 (not the shortest 5E-324)"));
        c.add(new Case("float64_jdk17_1e23", Schema.FLOAT64_SCHEMA, 1.0E23,
                "value is the literal 1.0E23. JDK-DEPENDENT: JDK<=18 Double.toString gives 9.999999999999999E22, JDK>=19 gives 1.0E23"));
        c.add(new Case("float64_jdk17_long_digits", Schema.FLOAT64_SCHEMA, 2.82879384806159E17,
                "value is the literal 2.82879384806159E17. JDK-DEPENDENT: JDK<=18 gives 2.82879384806159008E17, JDK>=19 gives 2.82879384806159E17"));
        c.add(new Case("float64_nan", Schema.FLOAT64_SCHEMA, Double.NaN, "Jackson writes the quoted string \"NaN\"; reading it back with a schema yields 0.0 (TextNode.doubleValue())"));
        c.add(new Case("float64_pos_infinity", Schema.FLOAT64_SCHEMA, Double.POSITIVE_INFINITY, "quoted \"Infinity\"; reads back as 0.0"));
        c.add(new Case("float64_neg_infinity", Schema.FLOAT64_SCHEMA, Double.NEGATIVE_INFINITY, "quoted \"-Infinity\"; reads back as 0.0"));
        c.add(new Case("float32_nan", Schema.FLOAT32_SCHEMA, Float.NaN, "quoted \"NaN\"; reads back as 0.0"));

        // strings / bytes
        c.add(new Case("string_empty", Schema.STRING_SCHEMA, "", ""));
        c.add(new Case("string_controls_unicode", Schema.STRING_SCHEMA,
                "\u0000\b\f\r\u001f\u007f|\u2028\u2029\ufeff\u00a0/中文𝄞",
                "Jackson: short escapes for \\b \\f \\r, \\u00XX with UPPERCASE hex otherwise; DEL, U+2028/9, BOM raw"));
        c.add(new Case("bytes_empty", Schema.BYTES_SCHEMA, new byte[0], ""));
        c.add(new Case("bytes_bytebuffer_offset", Schema.BYTES_SCHEMA, ByteBuffer.wrap(BYTES.clone(), 1, 2),
                "Java QUIRK: uses ByteBuffer.array(), i.e. the WHOLE backing array, ignoring position/limit"));

        // defaults
        Schema arrDefault = SchemaBuilder.array(Schema.INT32_SCHEMA).optional().defaultValue(list(1, 2)).build();
        c.add(new Case("array_default_null_value", arrDefault, null, "schema carries \"default\" after other keys"));
        Schema withDefaults = SchemaBuilder.struct().name("com.example.Defaults")
                .field("req", Schema.INT32_SCHEMA)
                .field("opt_default", SchemaBuilder.int32().optional().defaultValue(5).build())
                .field("req_default", SchemaBuilder.string().defaultValue("d").build())
                .field("opt_default_set", SchemaBuilder.string().optional().defaultValue("d2").build())
                .build();
        c.add(new Case("struct_field_defaults", withDefaults,
                new Struct(withDefaults).put("req", 1).put("opt_default_set", "v"),
                "opt_default and req_default never put (null): written as their defaults; roundtrip_without_schema reorders keys (HashMap)"));

        // structs: field order, no name, top-level optional null
        Schema order = SchemaBuilder.struct().name("com.example.Order")
                .field("z", Schema.STRING_SCHEMA).field("a", Schema.INT32_SCHEMA).field("m", Schema.BOOLEAN_SCHEMA)
                .build();
        c.add(new Case("struct_field_order", order, new Struct(order).put("m", false).put("a", 1).put("z", "last"),
                "schema field order (z, a, m) is kept, not alphabetical nor put() order; roundtrip_without_schema reorders keys (HashMap)"));
        Schema anon = SchemaBuilder.struct().field("f", Schema.INT32_SCHEMA).build();
        c.add(new Case("struct_no_name", anon, new Struct(anon).put("f", 1), ""));
        Schema optStruct = SchemaBuilder.struct().name("com.example.Opt").optional()
                .field("f", Schema.INT32_SCHEMA).build();
        c.add(new Case("optional_struct_null", optStruct, null, "roundtrip_without_schema is a Java null"));

        // more collections
        c.add(new Case("array_nested", SchemaBuilder.array(SchemaBuilder.array(Schema.INT32_SCHEMA).build()).build(),
                list(list(1), list(), list(2, 3)), ""));
        c.add(new Case("map_empty", SchemaBuilder.map(Schema.STRING_SCHEMA, Schema.STRING_SCHEMA).build(),
                lmap(), ""));
        c.add(new Case("map_optional_values",
                SchemaBuilder.map(Schema.STRING_SCHEMA, Schema.OPTIONAL_INT32_SCHEMA).build(),
                lmap("a", 1, "b", null), ""));

        // more logical types
        c.add(new Case("decimal_high_bit", Decimal.schema(0), new BigDecimal("128"),
                "unscaled 128 needs a leading 0x00 sign byte: 0x0080"));
        c.add(new Case("decimal_zero", Decimal.schema(2), new BigDecimal("0.00"), "unscaled 0 = single byte 0x00"));
        c.add(new Case("decimal_with_precision_param",
                Decimal.builder(2).parameter("connect.decimal.precision", "10").optional().build(),
                new BigDecimal("-12.34"), ""));
        c.add(new Case("date_pre_epoch", Date.SCHEMA, utcDay(1969, 12, 31), "days = -1"));
        c.add(new Case("timestamp_pre_epoch", Timestamp.SCHEMA, new java.util.Date(-1L), ""));

        // more schemaless
        c.add(new Case("schemaless_map_int_keys", null, lmap(1, "one", 2, "two"),
                "schemaless map with any non-String key -> array of pairs"));
        c.add(new Case("schemaless_number_types", null,
                list((byte) 1, (short) 2, 3, 4L, 1.5f, 2.5d, 0.1f), ""));
        c.add(new Case("schemaless_bytes", null, new byte[] {1, 2, 3}, ""));
        c.add(new Case("schemaless_long_big", null, 9007199254740993L, ""));

        return c;
    }

    // ---------------------------------------------------------------- conversion

    static JsonConverter converter(boolean schemasEnable) {
        JsonConverter jc = new JsonConverter();
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("converter.type", "value");
        cfg.put("schemas.enable", Boolean.toString(schemasEnable));
        jc.configure(cfg);
        return jc;
    }

    static String utf8(byte[] b) {
        if (b == null) return null;
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalStateException("converter output is not valid UTF-8", e);
        }
    }

    /** Runs a step; stores the UTF-8 output (or null) under key, and the error under key_error. */
    static byte[] step(ObjectNode out, String key, Supplier<byte[]> s) {
        try {
            byte[] b = s.get();
            out.put(key, utf8(b));
            return b;
        } catch (RuntimeException e) {
            out.putNull(key);
            out.put(key + "_error", e.getClass().getName() + ": " + e.getMessage());
            return null;
        }
    }

    static byte[] roundtrip(boolean schemasEnable, byte[] in) {
        JsonConverter jc = converter(schemasEnable);
        SchemaAndValue sv = jc.toConnectData(TOPIC, in);
        return jc.fromConnectData(TOPIC, sv.schema(), sv.value());
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: java -cp '<jars>/*' GenVectors.java <out.json> [<CASES.md>]");
            System.exit(2);
        }
        String expect = System.getProperty("kconnect.expectKafka");
        if (expect != null && !expect.equals(AppInfoParser.getVersion()))
            throw new IllegalStateException("classpath has Kafka " + AppInfoParser.getVersion()
                    + ", expected " + expect + " (jar cache changed or incomplete?)");
        List<Case> cases = cases();
        ObjectMapper om = new ObjectMapper();
        List<String> lines = new ArrayList<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        int errors = 0;
        for (Case c : cases) {
            if (!seen.add(c.name())) throw new IllegalStateException("duplicate case " + c.name());
            ObjectNode o = om.createObjectNode();
            o.put("name", c.name());
            // fresh converters per case so no schema cache is shared between cases
            byte[] with = step(o, "with_schema", () -> converter(true).fromConnectData(TOPIC, c.schema(), c.value()));
            boolean withOk = !o.has("with_schema_error");
            byte[] without = step(o, "without_schema", () -> converter(false).fromConnectData(TOPIC, c.schema(), c.value()));
            boolean withoutOk = !o.has("without_schema_error");
            if (withOk) step(o, "roundtrip_with_schema", () -> roundtrip(true, with));
            else o.putNull("roundtrip_with_schema");
            if (withoutOk) step(o, "roundtrip_without_schema", () -> roundtrip(false, without));
            else o.putNull("roundtrip_without_schema");
            for (var it = o.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (f.endsWith("_error")) {
                    errors++;
                    System.err.println("note: " + c.name() + "." + f + " = " + o.get(f).asText());
                }
            }
            lines.add(om.writeValueAsString(o));
        }
        String json = "[\n" + String.join(",\n", lines) + "\n]\n";
        Files.write(Path.of(args[0]), json.getBytes(StandardCharsets.UTF_8));
        System.err.println("wrote " + cases.size() + " cases to " + args[0]
                + " (kafka " + AppInfoParser.getVersion() + ", " + errors + " recorded errors)");

        if (args.length == 2) {
            Files.write(Path.of(args[1]), casesMarkdown(cases).getBytes(StandardCharsets.UTF_8));
            System.err.println("wrote " + args[1]);
        }
    }

    // ---------------------------------------------------------------- CASES.md rendering

    static String casesMarkdown(List<Case> cases) {
        StringBuilder sb = new StringBuilder();
        sb.append(MD_HEADER.replace("@KAFKA@", AppInfoParser.getVersion())
                .replace("@JAVA@", System.getProperty("java.specification.version")));
        sb.append("| # | name | schema | value | notes |\n");
        sb.append("|---|------|--------|-------|-------|\n");
        int i = 1;
        for (Case c : cases) {
            sb.append("| ").append(i++)
                    .append(" | `").append(c.name()).append('`')
                    .append(" | ").append(cell(c.schema() == null ? "null" : schemaExpr(c.schema())))
                    .append(" | ").append(cell(valueExpr(c.value())))
                    .append(" | ").append(c.notes().replace("|", "\\|"))
                    .append(" |\n");
        }
        return sb.toString();
    }

    static String cell(String code) {
        // inline code in a table cell: escape pipes; no backticks occur in our renderings
        return "`" + code.replace("|", "\\|") + "`";
    }

    /** Renders a schema as the SchemaBuilder expression that rebuilds it exactly. */
    static String schemaExpr(Schema s) {
        StringBuilder b = new StringBuilder();
        switch (s.type()) {
            case INT8 -> b.append("int8()");
            case INT16 -> b.append("int16()");
            case INT32 -> b.append("int32()");
            case INT64 -> b.append("int64()");
            case FLOAT32 -> b.append("float32()");
            case FLOAT64 -> b.append("float64()");
            case BOOLEAN -> b.append("bool()");
            case STRING -> b.append("string()");
            case BYTES -> b.append("bytes()");
            case ARRAY -> b.append("array(").append(schemaExpr(s.valueSchema())).append(")");
            case MAP -> b.append("map(").append(schemaExpr(s.keySchema())).append(", ")
                    .append(schemaExpr(s.valueSchema())).append(")");
            case STRUCT -> b.append("struct()");
        }
        if (s.name() != null) b.append(".name(").append(jstr(s.name())).append(")");
        if (s.version() != null) b.append(".version(").append(s.version()).append(")");
        if (s.doc() != null) b.append(".doc(").append(jstr(s.doc())).append(")");
        if (s.parameters() != null)
            for (Map.Entry<String, String> p : s.parameters().entrySet())
                b.append(".parameter(").append(jstr(p.getKey())).append(", ").append(jstr(p.getValue())).append(")");
        if (s.isOptional()) b.append(".optional()");
        if (s.defaultValue() != null) b.append(".defaultValue(").append(valueExpr(s.defaultValue())).append(")");
        if (s.type() == Schema.Type.STRUCT)
            for (Field f : s.fields())
                b.append(".field(").append(jstr(f.name())).append(", ").append(schemaExpr(f.schema())).append(")");
        return b.toString();
    }

    /** Renders a Connect value as a typed Java-like expression. */
    static String valueExpr(Object v) {
        if (v == null) return "null";
        if (v instanceof Byte x) return "(byte)" + x;
        if (v instanceof Short x) return "(short)" + x;
        if (v instanceof Integer x) return Integer.toString(x);
        if (v instanceof Long x) return x + "L";
        if (v instanceof Float x) {
            if (x.isNaN()) return "Float.NaN";
            if (x.isInfinite()) return x > 0 ? "Float.POSITIVE_INFINITY" : "Float.NEGATIVE_INFINITY";
            if (x == Float.MAX_VALUE) return "Float.MAX_VALUE /*3.4028235E38f, bits 0x7f7fffff*/";
            return x + "f /*bits 0x" + Integer.toHexString(Float.floatToRawIntBits(x)) + "*/";
        }
        if (v instanceof Double x) {
            if (x.isNaN()) return "Double.NaN";
            if (x.isInfinite()) return x > 0 ? "Double.POSITIVE_INFINITY" : "Double.NEGATIVE_INFINITY";
            if (x == Double.MIN_VALUE) return "Double.MIN_VALUE /*bits 0x1*/";
            return "(double)" + x + " /*bits 0x" + Long.toHexString(Double.doubleToRawLongBits(x)) + "*/";
        }
        if (v instanceof Boolean x) return x.toString();
        if (v instanceof String x) return jstr(x);
        if (v instanceof byte[] x) return "byte[]" + bytesList(x, 0, x.length);
        if (v instanceof ByteBuffer x) {
            byte[] a = x.array();
            return "ByteBuffer.wrap(byte[]" + bytesList(a, 0, a.length) + ", " + x.position() + ", "
                    + (x.limit() - x.position()) + ")";
        }
        if (v instanceof BigDecimal x) return "new BigDecimal(\"" + x.toString() + "\") /*unscaled "
                + x.unscaledValue() + ", scale " + x.scale() + "*/";
        if (v instanceof java.util.Date x) return "new java.util.Date(" + x.getTime() + "L) /*"
                + Instant.ofEpochMilli(x.getTime()) + "*/";
        if (v instanceof Struct x) {
            StringBuilder b = new StringBuilder("Struct{");
            boolean first = true;
            for (Field f : x.schema().fields()) {
                if (!first) b.append(", ");
                first = false;
                Object fv = x.getWithoutDefault(f.name());
                b.append(f.name()).append('=').append(fv == null ? "unset/null" : valueExpr(fv));
            }
            return b.append("}").toString();
        }
        if (v instanceof Map<?, ?> x) {
            StringBuilder b = new StringBuilder("LinkedHashMap{");
            boolean first = true;
            for (Map.Entry<?, ?> e : x.entrySet()) {
                if (!first) b.append(", ");
                first = false;
                b.append(valueExpr(e.getKey())).append(": ").append(valueExpr(e.getValue()));
            }
            return b.append("}").toString();
        }
        if (v instanceof Collection<?> x) {
            StringBuilder b = new StringBuilder("List[");
            boolean first = true;
            for (Object e : x) {
                if (!first) b.append(", ");
                first = false;
                b.append(valueExpr(e));
            }
            return b.append("]").toString();
        }
        throw new IllegalArgumentException("cannot render " + v.getClass());
    }

    static String bytesList(byte[] a, int from, int to) {
        StringBuilder b = new StringBuilder("{");
        for (int i = from; i < to; i++) {
            if (i > from) b.append(",");
            b.append(String.format("0x%02X", a[i] & 0xff));
        }
        return b.append("}").toString();
    }

    /** Java string literal, ASCII-only (non-ASCII as \\uXXXX UTF-16 escapes), so it is unambiguous. */
    static String jstr(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                case '\r' -> b.append("\\r");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (ch < 0x20 || ch >= 0x7f) b.append(String.format("\\u%04X", (int) ch));
                    else b.append(ch);
                }
            }
        }
        return b.append('"').toString();
    }

    static final String MD_HEADER = """
            # JsonConverter test vectors: cases

            GENERATED by `gen.sh` (from `GenVectors.java`); do not edit by hand.

            Produced with Apache Kafka `org.apache.kafka:connect-json:@KAFKA@` on Java @JAVA@, using
            `JsonConverter.fromConnectData("topic", schema, value)` with `converter.type=value` and
            `schemas.enable=true` (`with_schema`) or `false` (`without_schema`); all other settings at
            their defaults (`decimal.format=BASE64`, `replace.null.with.default=true`).
            `roundtrip_*` = `toConnectData` of that output with the same settings, then `fromConnectData` again.

            ## vectors.json format

            A JSON array (one object per line, in the order of the table below):
            `{"name", "with_schema", "without_schema", "roundtrip_with_schema", "roundtrip_without_schema"}`.
            Each value is the converter's exact output bytes decoded as UTF-8, or JSON `null` when the
            converter returned a Java `null` (only `null_schema_null_value`). If a step threw, the field is
            `null` and an extra `"<field>_error": "<exception class>: <message>"` key is present.

            ## What Java does (read off these vectors and the 4.1.1 source)

            * Output is compact (no spaces). Envelope is `{"schema":...,"payload":...}` in that order;
              a schemaless value with `schemas.enable=true` gets `"schema":null`.
            * Schema JSON key order: `type`, then `items` (array) / `keys`,`values` (map) / `fields` (struct),
              then `optional` (always present), `name`, `version`, `doc`, `parameters` (insertion order),
              `default` (only if the default is non-null; the default is converted like a value), and for a
              struct field a trailing `field`. Type names: int8 int16 int32 int64 float double boolean string
              bytes array map struct.
            * Integers: exact decimal (int64 never goes through a double).
            * Floats: Jackson writes `Float.toString` / `Double.toString`: always has a `.` or exponent
              (`1.0`), plain notation for 1e-3 <= |x| < 1e7, otherwise `d.dddE[-]n` (`1.0E21`, `1.0E-7`, no
              `+`); FLOAT32 is formatted as a float (`3.14`, `0.1`), not the widened double; `-0.0` kept.
              JDK 17 `Double.toString` is not always shortest (`4.9E-324`, `9.999999999999999E22` for 1e23,
              `2.82879384806159008E17`): the two `float64_jdk17_*` cases differ on JDK >= 19.
              NaN/Infinity are written as the JSON strings `"NaN"`, `"Infinity"`, `"-Infinity"`, and read
              back through a FLOAT schema as `0.0`; `-0.0` reads back as `0.0`.
            * Strings: `"` `\\` escaped; `\\b \\t \\n \\f \\r` short escapes; other chars < 0x20 as `\\u00XX`
              (UPPERCASE hex); `/`, `<`, DEL, U+2028/2029, BOM and all other BMP chars raw UTF-8; chars outside
              the BMP (emoji) as an escaped UTF-16 surrogate pair `\\uD83D\\uDE00` (Jackson default, not raw UTF-8).
            * Bytes: standard base64 with `=` padding. A `ByteBuffer` is written via `.array()`: the whole
              backing array, ignoring position/limit (`bytes_bytebuffer_offset`).
            * Decimal (BASE64): base64 of `BigInteger.toByteArray()` of the unscaled value (minimal
              big-endian two's complement: `0x00` sign byte for 128, `0x00` for zero, `0xFF` for -1).
              The value's scale must equal the schema's `scale` parameter.
            * Date = int days since epoch, Time = int millis since midnight, Timestamp = long millis since
              epoch; Connect values are `java.util.Date` for all three.
            * Null value with a non-null schema default is written as the default (`replace.null.with.default`
              defaults to true), also for struct fields never set. Optional null without default -> `null`;
              with `schemas.enable=false` a top-level null becomes the 4-byte text `null`, while schema==null
              and value==null gives a Java null (no bytes) in both modes.
            * Maps: STRING key schema -> JSON object; any other key schema -> array of `[key,value]` pairs.
              Schemaless maps are objects only if every key is a `String`.
            * Struct fields are written in schema field order.
            * Reader (`roundtrip_*`): JSON objects read as maps (schemaless) go into a `java.util.HashMap`, so
              `roundtrip_without_schema` of structs and both roundtrips of `schemaless_map` have
              HashMap-ordered keys; compare those as JSON values with object key order ignored. Reading a
              bare JSON `null` schemaless gives a tombstone (Java null). Schemaless numbers read back as
              int64 (integral) or float64.

            ## Notation

            * **schema** is the `SchemaBuilder` expression that rebuilds it (`SchemaBuilder.` prefix omitted;
              `struct()...field(name, schema)` lists fields in order). Builder calls appear in a fixed order
              (name, version, doc, parameters in insertion order, optional, defaultValue, fields), which is
              not necessarily the order the case was written in, but builds an equal schema.
              Logical types are shown by their underlying form, e.g. `Decimal.schema(2)` is
              `bytes().name("org.apache.kafka.connect.data.Decimal").version(1).parameter("scale", "2")`,
              `Date.SCHEMA` is `int32().name("org.apache.kafka.connect.data.Date").version(1)`, etc.
              `null` means no schema (schemaless value).
            * **value** is a typed Java expression: `(byte)`/`(short)`/int/`L` long/`f` float/`(double)`
              with the IEEE bits in a comment; strings are Java literals with every non-ASCII char as a
              `\\uXXXX` UTF-16 escape (so `\\uD83D\\uDE00` is U+1F600); `byte[]{...}` hex bytes;
              `ByteBuffer.wrap(array, offset, length)`; `new BigDecimal("...")` (with unscaled value and
              scale); `new java.util.Date(millis)` (with the UTC instant); `List[...]`, `LinkedHashMap{k: v}`
              (iteration order = insertion order), `Struct{field=value}` in schema field order
              (`unset/null` = field never put or put as null).

            ## Cases

            """;
}
