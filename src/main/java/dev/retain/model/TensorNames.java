package dev.retain.model;

/**
 * The one place tensor names are spelled. A base's tensors are {@code convs.C.weight} and {@code
 * convs.C.bias} for convolution C, {@code layers.L.weight} and {@code layers.L.bias} for Linear
 * layer L, as {@code retain pretrain} writes them; an adapter's are PEFT's, {@code
 * base_model.model.<module>.lora_A.weight} and {@code ...lora_B.weight}.
 */
public final class TensorNames {
  private static final String PEFT_PREFIX = "base_model.model.";
  private static final String LORA_A = ".lora_A.weight";
  private static final String LORA_B = ".lora_B.weight";

  private TensorNames() {}

  /** The module name of convolution {@code c}. */
  public static String conv(int c) {
    return "convs." + c;
  }

  /** The module name of Linear layer {@code l}. */
  public static String linear(int l) {
    return "layers." + l;
  }

  public static String weight(String module) {
    return module + ".weight";
  }

  public static String bias(String module) {
    return module + ".bias";
  }

  /** PEFT's name of the LoRA A (down) matrix of {@code module}. */
  public static String loraA(String module) {
    return PEFT_PREFIX + module + LORA_A;
  }

  /** PEFT's name of the LoRA B (up) matrix of {@code module}. */
  public static String loraB(String module) {
    return PEFT_PREFIX + module + LORA_B;
  }

  /** True for the name of a LoRA B matrix. */
  public static boolean isLoraB(String name) {
    return name.endsWith(LORA_B);
  }

  /** The module an adapter tensor belongs to: {@code layers.0} for its A or B. */
  public static String moduleOf(String adapterTensor) {
    String module =
        adapterTensor.startsWith(PEFT_PREFIX)
            ? adapterTensor.substring(PEFT_PREFIX.length())
            : adapterTensor;
    for (String suffix : new String[] {LORA_A, LORA_B}) {
      if (module.endsWith(suffix)) {
        return module.substring(0, module.length() - suffix.length());
      }
    }
    return module;
  }
}
