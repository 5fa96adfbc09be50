// Order totals for the shop front: line discounts, an order-level coupon, then VAT per country.

export interface OrderLine {
  sku: string;
  quantity: number;
  unitPriceCents: number;
  /** Percentage off this line, 0-100. */
  discountPercent?: number;
}

export interface Coupon {
  code: string;
  /** Fixed amount off the whole order, applied before tax. */
  amountOffCents: number;
  minimumOrderCents: number;
}

const VAT_RATES: Record<string, number> = { DE: 0.19, FR: 0.2, NL: 0.21, GB: 0.2, US: 0 };

export interface Totals {
  subtotalCents: number;
  discountCents: number;
  taxCents: number;
  totalCents: number;
}

export function lineTotal(line: OrderLine): number {
  const gross = line.quantity * line.unitPriceCents;
  const discount = Math.round((gross * (line.discountPercent ?? 0)) / 100);
  return gross - discount;
}

export function orderTotals(lines: OrderLine[], country: string, coupon?: Coupon): Totals {
  const subtotal = lines.reduce((sum, line) => sum + lineTotal(line), 0);
  let discount = 0;
  if (coupon && subtotal > coupon.minimumOrderCents) {
    discount = Math.min(coupon.amountOffCents, subtotal);
  }
  const rate = VAT_RATES[country];
  if (rate === undefined) throw new Error(`No VAT rate for ${country}`);
  const tax = Math.round((subtotal - discount) * rate);
  return { subtotalCents: subtotal, discountCents: discount, taxCents: tax, totalCents: subtotal - discount + tax };
}

export function formatCents(cents: number, currency = 'EUR'): string {
  return new Intl.NumberFormat('en-GB', { style: 'currency', currency }).format(cents / 100);
}
