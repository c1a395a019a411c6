#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The budget panel driven headless through egui_kittest: pick a preset, edit the battery, read the lifetime;
//! a measured profile offered by the trace view; the what-if and comparison sections answer.

use benchtop::model::budget::{Profile, State};
use benchtop::ui::budget::BudgetPanel;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn panel() -> Harness<'static, BudgetPanel> {
    Harness::builder()
        .with_size([1100.0, 1400.0])
        .build_ui_state(|ui, panel: &mut BudgetPanel| panel.ui(ui), BudgetPanel::default())
}

/// The LoRa preset draws 0.999 · 0.01 + 0.0005 · 50 + 0.0005 · 120 = 0.09499 mA.
const LORA_MA: f64 = 0.09499;

#[test]
fn picking_the_lora_preset_and_doubling_the_capacity_doubles_the_plain_lifetime() {
    let mut harness = panel();
    harness.run();
    // Starts on the WiFi preset: 3000 mAh / 0.43994 mA = 6819 h.
    harness.get_by_label("Plain lifetime: 6819 h · 284 days · 0.78 years");

    harness.get_by_label("Profile").click();
    harness.run();
    harness.get_by_label("LoRa sensor").click();
    harness.run();
    assert_eq!(harness.state().profile().name, "LoRa sensor");
    assert!((harness.state().profile().avg_current_ma() - LORA_MA).abs() < 1e-12);
    // 3000 mAh / 0.09499 mA = 31582.3 h = 1315.9 days = 3.605 years.
    harness.get_by_label("Average current: 0.09499 mA");
    harness.get_by_label("Plain lifetime: 31582 h · 1316 days · 3.61 years");

    harness.get_by_role_and_label(Role::SpinButton, "Capacity").set_value_accesskit(6000.0);
    harness.run();
    assert_eq!(harness.state().battery().capacity_mah, 6000.0);
    // 6000 mAh / 0.09499 mA = 63164.5 h = 2631.9 days = 7.211 years.
    harness.get_by_label("Plain lifetime: 63165 h · 2632 days · 7.21 years");
    assert!(harness.query_by_label("Plain lifetime: 31582 h · 1316 days · 3.61 years").is_none());
    // Derated: 80 % of 6000 mAh over 0.09499 mA + 2 %/year of 6000 mAh (0.0137 mA) = 44162.9 h.
    let derated_h = 4800.0 / (LORA_MA + 6000.0 * 0.02 / 8760.0);
    assert!((derated_h - 44162.9).abs() < 0.1, "{derated_h}");
    harness.get_by_label("Derated lifetime: 44163 h · 1840 days · 5.04 years");
}

#[test]
fn a_measured_profile_is_shown_and_offered() {
    let mut harness = panel();
    let measured = Profile::new(
        "bench trace",
        Some(1.0),
        vec![State::new("sleep", 0.01, 0.99), State::new("active", 5.0, 0.008), State::new("transmit", 120.0, 0.002)],
    )
    .unwrap();
    harness.state_mut().set_measured("run 1", measured.clone());
    harness.run();
    assert_eq!(harness.state().profile(), &measured);
    // 0.99 · 0.01 + 0.008 · 5 + 0.002 · 120 = 0.2899 mA; 3000 mAh of WiFi's battery / 0.2899 = 10348.4 h.
    harness.get_by_label("Average current: 0.28990 mA");
    harness.get_by_label("Plain lifetime: 10348 h · 431 days · 1.18 years");
    // The picker shows where the profile came from.
    assert_eq!(harness.get_by_label("Profile").value().as_deref(), Some("Measured: run 1"));
}

#[test]
fn what_if_and_comparison_answer_and_invalid_input_says_why() {
    let mut harness = panel();
    harness.state_mut().select_preset("lora");
    harness.run();
    // Every 300 s instead of 120 s: (0.06 · 170 + (300 − 0.12) · 0.01) / 300 mA.
    let then_ma = (0.06 * 170.0 + (300.0 - 0.12) * 0.01) / 300.0;
    harness.get_by_label_contains(&format!("Average current {then_ma:.5} mA (now 0.09499)"));
    // SF7 with a 10-byte application payload: 61.696 ms, which is 1.696 ms more than the preset's 60 ms.
    harness.get_by_label_contains("Time on air: 61.696 ms (48 payload symbols");
    harness.get_by_label("Duty-cycle spacing: one uplink every 6.17 s at most");
    // Compared with the typed-in example (B by default): 0.998 · 0.005 + 0.002 · 20 = 0.04499 mA lasts longer.
    let derated = |ma: f64| 2400.0 / (ma + 3000.0 * 0.02 / 8760.0);
    let ratio = derated(0.04499) / derated(0.09499);
    assert!(ratio > 1.9, "{ratio}");
    harness.get_by_label(&format!("B lasts {ratio:.2} × as long as A"));
    harness.get_by_label("Compare with").click();
    harness.run();
    harness.get_all_by_label("LoRa sensor").last().unwrap().click();
    harness.run();
    harness.get_by_label("B lasts 1.00 × as long as A");

    harness.get_by_label("Use this interval").click();
    harness.run();
    assert_eq!(harness.state().profile().period_s, Some(300.0));

    harness.get_by_role_and_label(Role::SpinButton, "State 1 share").set_value_accesskit(90.0);
    harness.run();
    harness.get_by_label_contains("the shares add up to");
    harness.get_by_label("Sleep takes the rest").click();
    harness.run();
    assert!((harness.state().profile().share_total() - 1.0).abs() < 1e-12);
    assert!(harness.query_by_label_contains("the shares add up to").is_none());
}
